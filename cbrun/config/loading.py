"""A config file read into a validated `RunSpec`: the entry points of the config layer.

`load_config(path, overrides)` returns a validated `RunSpec` or raises a
`ConfigError` listing every problem as `file:line:col: key.path: message`.
Nothing here imports TensorFlow: a config mistake is reported at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from cbrun.catalog.callbacks import callback_registry
from cbrun.catalog.registry import Registry
from cbrun.config.checks import named_problems, pydantic_problem
from cbrun.config.composition import origins
from cbrun.config.shapes import resolve_flatten
from cbrun.config.source import load_document
from cbrun.config.spec import RunSpec
from cbrun.config.yaml_loader import Document, describe_value, format_path
from cbrun.errors import ConfigError, Problem

MAX_PROBLEMS = 20


def sorted_capped(problems: list[Problem]) -> list[Problem]:
    def order(problem: Problem):
        numbers = re.findall(r":(\d+):(\d+)$", problem.where)
        return (0, int(numbers[0][0]), int(numbers[0][1])) if numbers else (1, 0, 0)

    unique = list(dict.fromkeys(problems))
    unique.sort(key=order)
    # One line more than the cap is shown rather than hidden behind a count of one.
    if len(unique) > MAX_PROBLEMS + 1:
        hidden = len(unique) - MAX_PROBLEMS
        unique = unique[:MAX_PROBLEMS] + [
            Problem(unique[0].where.split(":")[0], "", f"... and {hidden} more problems")
        ]
    return unique


def _with_phases(spec: RunSpec, callbacks: Registry) -> RunSpec:
    resolved = []
    for item in spec.callbacks:
        if item.phases is None:
            phases = list(callbacks.get(item.name).phases) if item.name in callbacks else ["fit"]
            item = item.model_copy(update={"phases": phases})
        resolved.append(item)
    return spec.model_copy(update={"callbacks": resolved})


def _not_a_mapping(doc: Document) -> Problem | None:
    if doc.data is None:
        return Problem(
            doc.where(()), "", "the config is empty; it needs at least model:, compile: and fit:"
        )
    if not isinstance(doc.data, dict):
        return Problem(
            doc.where(()),
            "",
            "the config must be a mapping of sections "
            f"(model:, compile:, fit:, ...), not {describe_value(doc.data)}",
        )
    return None


def _sound_sections(data: dict, error: ValidationError) -> tuple[RunSpec | None, frozenset]:
    """The spec of the sections that passed the schema, and the names of those that
    failed (or are missing): so that the checks of the sound ones still run."""
    broken = frozenset(str(e["loc"][0]) if e["loc"] else "" for e in error.errors())
    if "" in broken:
        return None, broken
    values = {}
    for name, field in RunSpec.model_fields.items():
        if name in broken or name not in data:
            continue
        try:
            values[name] = TypeAdapter(field.annotation).validate_python(data[name])
        except ValidationError:
            broken |= {name}
    return RunSpec.model_construct(**values), broken


def validate(
    doc: Document, *, default_name: str = "run", allow_plugins=(), resuming: bool = False
) -> RunSpec:
    """Validate a loaded document into a `RunSpec`; raise `ConfigError` listing every problem.

    One pass: the sections' schema, everything the config names and the rules between
    fields (`checks.py`, `rules.py`), each problem at its file position. A section that
    fails the schema skips only the checks that read it.
    """
    problem = _not_a_mapping(doc)
    if problem is not None:
        raise ConfigError([problem])
    problems = []
    try:
        spec, broken = RunSpec.model_validate(doc.data), frozenset()
    except ValidationError as error:
        problems = [pydantic_problem(doc, e, RunSpec) for e in error.errors()]
        spec, broken = _sound_sections(doc.data, error)
    if spec is not None:
        problems += [
            Problem(doc.where(path, key=key), format_path(path), message)
            for path, message, key in named_problems(spec, broken, allow_plugins, resuming)
        ]
    if problems:
        raise ConfigError(sorted_capped(problems))
    if spec.name is None:
        spec = spec.model_copy(update={"name": default_name})
    # `auto` decided once, here: every later step (data, resume, config.yaml) sees a bool.
    flatten = resolve_flatten(spec.data, spec.model.name)
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"flatten": flatten})})
    return _with_phases(spec, callback_registry())


def load_config(
    path: str | Path, overrides: list[str] = (), allow_plugins=(), resuming: bool = False
) -> RunSpec:
    """Load, override and validate a config file.

    Args:
        path: the YAML file.
        overrides: `KEY=VALUE` strings, as given to `--set`.
        allow_plugins: plugin modules allowed besides the config's `plugins:`.
        resuming: the config of a run resumed from its own checkpoint (`model.init_from`
            is not read again).

    Raises:
        ConfigError: every problem found, one per line.
    """
    doc = load_document(path, overrides)
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", Path(path).stem).strip("-._") or "run"
    spec = validate(
        doc, default_name=stem.replace("_", "-"), allow_plugins=allow_plugins, resuming=resuming
    )
    spec._chain = doc.chain
    spec._origins = {key: where for key, _, where in origins(doc)}
    return spec
