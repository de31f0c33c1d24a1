"""The package's layers point one way, and no import (inside functions too) closes a circle.

Every module is parsed with `ast`, its imports of cbrun mapped to the layer they land in,
and an import that climbs to a higher layer, or crosses to a sibling layer, fails naming
the file, the line and the two layers. The order is the flow a run takes, bottom first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cbrun"

# Lowest first; a module may import its own layer's modules and any layer below its own.
# Layers on one line are siblings: neither may import the other.
LAYERS = [
    ["errors"],
    ["filesystem"],
    ["backend"],
    ["catalog", "migrate"],
    ["config"],
    ["output"],
    ["data", "build", "tracking"],
    ["run"],
    ["after"],
    ["api"],
    ["sweep"],
    ["cli"],
    ["__main__"],
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str | None:
    """`cbrun.config.checks` → `config`; the package root itself has no layer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def cbrun_imports(path: Path):
    """`(line, imported module)` for every import of cbrun in the file, at any depth."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from cbrun.config import spec` imports the module cbrun.config.spec.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            if target == "cbrun" or target.startswith("cbrun."):
                yield node.lineno, target


def known_modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolve(target: str, modules: dict) -> str | None:
    """The module an import target lands in (`cbrun.config.spec.RunSpec` → its module)."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def import_graph() -> dict[str, list[tuple[int, str]]]:
    modules = known_modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for line, target in cbrun_imports(path):
            landed = resolve(target, modules)
            if landed and landed != name and landed != "cbrun":
                edges.add((line, landed))
        graph[name] = sorted(edges)
    return graph


def layering_problems(graph) -> list[str]:
    problems = []
    for name, edges in graph.items():
        source = layer_of(name)
        if source is None:
            continue  # cbrun/__init__.py: __version__ and the public names of the API
        path = known_modules()[name].relative_to(PACKAGE.parent)
        for line, target in edges:
            goal = layer_of(target)
            if goal is None or goal == source:
                continue
            if RANK[goal] >= RANK[source]:
                kind = "a sibling layer" if RANK[goal] == RANK[source] else "a higher layer"
                problems.append(f"{path}:{line}: {source} imports {goal} ({kind}: {target})")
    return problems


def circles(graph) -> list[list[str]]:
    """Each import circle once, as the modules along it."""
    found, seen = [], set()

    def visit(node, trail):
        for _, nxt in graph.get(node, ()):
            if nxt in trail:
                loop = trail[trail.index(nxt) :]
                key = frozenset(loop)
                if key not in seen:
                    seen.add(key)
                    found.append([*loop, nxt])
            elif nxt not in done:
                visit(nxt, [*trail, nxt])
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    return found


def test_every_module_sits_in_a_known_layer():
    unknown = {layer_of(m) for m in known_modules()} - set(RANK) - {None}
    assert not unknown, f"cbrun/{sorted(unknown)}: add it to LAYERS in this test"


def test_imports_point_down_the_layers():
    problems = layering_problems(import_graph())
    assert not problems, "\n".join(problems)


def test_no_import_closes_a_circle():
    found = circles(import_graph())
    assert not found, "\n".join(" -> ".join(loop) for loop in found)


def test_an_upward_import_is_caught(tmp_path):
    """What the check says when `run/` reaches for the command line."""
    graph = import_graph()
    graph["cbrun.run.runner"] = [*graph["cbrun.run.runner"], (1, "cbrun.cli.main")]
    problems = layering_problems(graph)
    assert problems == ["cbrun/run/runner.py:1: run imports cli (a higher layer: cbrun.cli.main)"]


def test_a_circle_is_caught():
    graph = {"cbrun.a.x": [(3, "cbrun.a.y")], "cbrun.a.y": [(5, "cbrun.a.x")]}
    assert circles(graph) == [["cbrun.a.x", "cbrun.a.y", "cbrun.a.x"]]


@pytest.mark.parametrize("layer", sorted({layer_of(m) for m in known_modules()} - {None}))
def test_each_subpackage_says_what_it_owns(layer):
    init = PACKAGE / layer / "__init__.py"
    if not init.parent.is_dir():
        return  # a module at the top (errors, api, tensorflow_loader)
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert doc and "import" in doc, f"{init}: say what the package owns and may import"


def test_the_top_holds_at_most_six_files():
    files = sorted(p.name for p in PACKAGE.iterdir() if p.is_file() and p.suffix == ".py")
    assert len(files) <= 6, files


def test_modules_and_functions_stay_short():
    long = []
    for path in known_modules().values():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 400:
            long.append(f"{path}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > 60:
                    long.append(f"{path}:{node.lineno}: {node.name} is {size} lines")
    assert not long, "\n".join(long)


def test_every_module_is_imported_by_a_test():
    """Each module has tests that import it directly (the tests mirror the package)."""
    tests = Path(__file__).resolve().parent
    imported = set()
    modules = known_modules()
    for path in tests.rglob("*.py"):
        for _, target in cbrun_imports_of_test(path):
            landed = resolve(target, modules)
            if landed:
                imported.add(landed)
    # cbrun/__main__.py is three lines, run as `python -m cbrun` by every process test.
    missing = [
        m
        for m, p in modules.items()
        if p.name not in ("__init__.py", "__main__.py") and m not in imported
    ]
    assert not missing, "no test imports: " + ", ".join(sorted(missing))


def cbrun_imports_of_test(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("cbrun"):
                yield node.lineno, name
