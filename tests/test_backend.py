"""One way in to TensorFlow: every module reaches Keras through the quiet loader.

`import keras` anywhere in cbrun would load TensorFlow with its C++ chatter on the
console whenever that module happened to be the first to load it (issue 23: evaluate
and predict showed it through the run logger). So the modules are parsed with `ast`:
`import keras` / `import tensorflow` appear only in cbrun/backend.py, and a
`from keras.src... import` (a private part the loader does not hand out) only inside a
function that called `load_keras()` or `load_tensorflow()` before it.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from cbrun import backend

PACKAGE = Path(__file__).resolve().parents[1] / "cbrun"
LOADER = PACKAGE / "backend.py"
HEAVY = ("keras", "tensorflow")
LOADS = ("load_keras", "load_tensorflow", "import_keras")


def _heavy(name: str | None) -> bool:
    return (name or "").split(".")[0] in HEAVY


def _loads_before(function: ast.AST, line: int) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and node.lineno < line:
            called = node.func.id if isinstance(node.func, ast.Name) else None
            if called in LOADS:
                return True
    return False


def loader_bypasses(path: Path, relative_to: Path = PACKAGE.parent) -> list[str]:
    """`file:line: ...` for each import of Keras or TensorFlow that skips the loader."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(relative_to)
    problems = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if _heavy(alias.name):
                        problems.append(
                            f"{where}:{child.lineno}: import {alias.name} bypasses the quiet "
                            f"loader: use cbrun.backend.load_{alias.name.split('.')[0]}()"
                        )
            elif isinstance(child, ast.ImportFrom) and _heavy(child.module):
                if function is None or not _loads_before(function, child.lineno):
                    problems.append(
                        f"{where}:{child.lineno}: from {child.module} import ... before the "
                        "quiet loader ran: call load_keras() first, in the same function"
                    )
            visit(child, inner or function)

    visit(tree, None)
    return problems


def test_no_module_imports_keras_or_tensorflow_outside_the_loader():
    problems = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != LOADER
        for problem in loader_bypasses(path)
    ]
    assert problems == []


def test_a_bypass_is_caught(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text(
        "import keras\n"
        "from tensorflow.python.framework import config\n"
        "def fine():\n"
        "    keras = load_keras()\n"
        "    from keras.src import backend\n"
        "def late():\n"
        "    from keras.src import backend\n"
        "    load_keras()\n"
        "def nested():\n"
        "    import tensorflow as tf\n"
    )
    problems = loader_bypasses(module, tmp_path)
    assert [problem.split(":")[:2] for problem in problems] == [
        ["bad.py", "1"],
        ["bad.py", "2"],
        ["bad.py", "7"],
        ["bad.py", "10"],
    ]
    assert "use cbrun.backend.load_keras()" in problems[0]


def test_set_verbose_reaches_the_processes_cbrun_starts(monkeypatch):
    monkeypatch.delenv(backend.VERBOSE_ENV, raising=False)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    try:
        backend.set_verbose(False)
        assert backend.VERBOSE_ENV not in os.environ
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
        backend.set_verbose(True)
        assert os.environ[backend.VERBOSE_ENV] == "1"
    finally:
        monkeypatch.delenv(backend.VERBOSE_ENV, raising=False)
        backend.set_verbose(False)


def test_the_loader_hands_out_the_modules_it_imported():
    keras = backend.load_keras()
    tf = backend.load_tensorflow()
    assert keras.__name__ == "keras" and hasattr(keras, "callbacks")
    assert tf.__name__ == "tensorflow" and hasattr(tf, "config")


def test_what_the_import_made_is_frozen_out_of_the_collector():
    """Keras's clear_session runs a full collection before every run; it must not walk
    the hundreds of thousands of objects TensorFlow's import made (0.13-0.19 s each)."""
    import gc

    backend.import_keras()  # conftest imported through it already
    import keras

    assert gc.get_freeze_count() > 100_000
    assert all(obj is not vars(keras) for obj in gc.get_objects(generation=2))
