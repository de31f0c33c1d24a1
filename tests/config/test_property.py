"""A property of `cbrun validate` over generated configs: exit 0 or 2, never a traceback,
nothing written, whatever the file holds.

The configs come from cbrun's own JSON Schema (`cbrun schema`) through
hypothesis-jsonschema, section by section, on top of a valid run; then a mutation
breaks them the ways people do: a wrong type, a number out of range (huge, negative,
NaN, infinite), an unknown key at any depth, deep nesting, odd Unicode. The model,
compile and callbacks sections (hundreds of Keras signatures: too large a schema to
canonicalise in a test) name registered things with generated arguments instead.
`derandomize=True` and a fixed `max_examples`: the same cases on every run, so CI never
flakes; the count is `EXAMPLES`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("hypothesis_jsonschema")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis_jsonschema import from_schema  # noqa: E402

from tests.conftest import TINY  # noqa: E402

EXAMPLES = 150
# The sections generated from the schema itself (the rest: see the module docstring).
SCHEMA_SECTIONS = (
    "name", "seed", "deterministic", "data", "fit", "evaluate", "logging", "output",
    "distribute", "tracking", "sweep", "plugins",
)  # fmt: skip
ODD_TEXT = [
    "",
    " ",
    "\u202eevil",
    "e\u0301\u0301\u0301",
    "\U0001f600" * 40,
    "nul\x00byte",
    "line\nbreak",
    "\ufeffbom",
    "x" * 5000,
    "../../etc/passwd",
    "{fit.epochs}",
    "%(name)s",
]
HUGE = [10**30, -(10**30), -1, 0, 1e308, -1e308, math.inf, -math.inf, math.nan, 2**63, 1e-320]


def _used_defs(node, defs: dict, found: set) -> set:
    """The `$defs` a schema node refers to, transitively (a smaller schema to canonicalise)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name not in found:
                found.add(name)
                _used_defs(defs[name], defs, found)
        for value in node.values():
            _used_defs(value, defs, found)
    elif isinstance(node, list):
        for value in node:
            _used_defs(value, defs, found)
    return found


def _section_strategies() -> dict:
    from cbrun.config.json_schema import json_schema

    schema = json_schema()
    defs = schema.get("$defs", {})
    strategies = {}
    for key in SCHEMA_SECTIONS:
        part = schema["properties"][key]
        used = _used_defs(part, defs, set())
        strategies[key] = from_schema({**part, "$defs": {n: defs[n] for n in used}})
    return strategies


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _named_sections():
    """model, compile and callbacks: registered names, generated arguments."""
    from cbrun.catalog.callbacks import callback_registry

    callbacks = sorted(callback_registry().names())
    args = st.dictionaries(st.sampled_from(["patience", "monitor", "units", "rate", "x"]), JSON)
    return st.fixed_dictionaries(
        {
            "model": st.fixed_dictionaries(
                {"name": st.sampled_from(["linear", "mlp", "cnn", "sequential", "nope"])},
                optional={"args": args},
            ),
            "compile": st.fixed_dictionaries(
                {
                    "loss": st.sampled_from(
                        [
                            "mean_squared_error",
                            "sparse_categorical_crossentropy",
                            "categorical_crossentropy",
                            "losses",
                        ]
                    )
                },
                optional={"metrics": st.lists(st.sampled_from(["mae", "accuracy", "auc"]))},
            ),  # fmt: skip
            "callbacks": st.lists(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(callbacks)}, optional={"args": args}
                ),
                max_size=3,
            ),
        }
    )


def _paths(node, prefix=()):
    """Every (path, value) in a nested config, containers included."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _set(config, path, value):
    if not path:
        return value
    target = config
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return config


@st.composite
def configs(draw):
    """A valid run with some sections generated from the schema, then (mostly) mutated."""
    config = yaml.safe_load(TINY)
    strategies = _STRATEGIES
    for key in draw(st.lists(st.sampled_from(SCHEMA_SECTIONS), max_size=4, unique=True)):
        config[key] = draw(strategies[key])
    if draw(st.booleans()):
        config.update(draw(_named_sections()))
    mutation = draw(st.sampled_from(["none", "type", "range", "unknown", "deep", "unicode"]))
    paths = [p for p, _ in _paths(config) if p]
    path = draw(st.sampled_from(paths)) if paths else ()
    if mutation == "type":
        config = _set(config, path, draw(JSON))
    elif mutation == "range":
        config = _set(config, path, draw(st.sampled_from(HUGE)))
    elif mutation == "unknown":
        holders = [p for p, v in _paths(config) if isinstance(v, dict)]
        holder = draw(st.sampled_from(holders))
        key = draw(st.sampled_from(["epochs", "epoch", "bach_size", "unknown", "\u00e9", "1"]))
        _set(config, (*holder, key), draw(JSON)) if holder else config.update({key: 1})
    elif mutation == "deep":
        depth = draw(st.integers(min_value=20, max_value=200))
        value = "bottom"
        for level in range(depth):
            value = [value] if level % 2 else {"k": value}
        config = _set(config, path, value)
    elif mutation == "unicode":
        config = _set(config, path, draw(st.sampled_from(ODD_TEXT)))
    return config


_STRATEGIES: dict = {}
_FOUND: list = []  # what the property test saw, for the note (exit codes by count)


@pytest.fixture(scope="module", autouse=True)
def _strategies():
    _STRATEGIES.update(_section_strategies())


def _dump(config) -> str:
    try:
        return yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=10_000)
    except (yaml.YAMLError, RecursionError, ValueError):
        return json.dumps(config, default=str)  # JSON is YAML too


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(config=configs())
def test_validate_exits_0_or_2_and_writes_nothing(config, tmp_path_factory):
    from click.testing import CliRunner

    from cbrun.cli.main import cli

    folder = tmp_path_factory.mktemp("property")
    path = folder / "generated.yaml"
    path.write_text(_dump(config), encoding="utf-8", errors="surrogatepass")
    before = sorted(Path(folder).rglob("*"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    _FOUND.append(result.exit_code)
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("Error: "), result.output
    assert sorted(Path(folder).rglob("*")) == before
