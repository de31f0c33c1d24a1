"""Every dotted key a config may hold, for `--set` suggestions by the full path.

`--set epochs=3` or `--set optimizer.learning_rate=0.01` name a key by part of its
path; the suggestion is the full one (`fit.epochs`,
`compile.optimizer.args.learning_rate`), found among the schema's keys and the
arguments of the models and optimizers in the Keras table. No TensorFlow.
"""

from __future__ import annotations

import difflib
import typing
from functools import cache

from pydantic import BaseModel

from cbrun.catalog.keras_table import table


def _models_in(annotation) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: `X`, `X | None`, `list[X]`, `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for inner in typing.get_args(annotation) for model in _models_in(inner)]


def _schema_paths(model: type[BaseModel], prefix: tuple) -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        here = prefix + (key,)
        paths.append(".".join(here))
        for inner in _models_in(field.annotation):
            paths += _schema_paths(inner, here)
    return paths


@cache
def known_paths() -> tuple[str, ...]:
    """The schema's dotted keys, then `model.args.*` and `compile.optimizer.args.*`."""
    from cbrun.config.spec import RunSpec

    paths = _schema_paths(RunSpec, ())
    for kind, prefix in (("models", "model.args"), ("optimizers", "compile.optimizer.args")):
        for record in table()[kind].values():
            paths += [f"{prefix}.{argument['name']}" for argument in record["arguments"]]
    return tuple(dict.fromkeys(paths))


def _in_order(parts: list[str], candidate: list[str]) -> bool:
    rest = iter(candidate)
    return all(part in rest for part in parts)


def suggest_path(typed: str) -> str:
    """` (did you mean fit.epochs?)` for `epochs`, or "" when nothing is close."""
    parts = [p for p in typed.split(".") if not p.isdigit()]
    if not parts:
        return ""
    known = known_paths()
    if typed in known:
        return ""
    # Every part, in order, as a whole key of a known path: the shortest such path.
    whole = [p for p in known if _in_order(parts, p.split("."))]
    if whole:
        return f" (did you mean {min(whole, key=len)}?)"
    # Else the last part misspelt: known paths whose last key is close to it.
    ends = {p.rsplit(".", 1)[-1]: p for p in sorted(known, key=len, reverse=True)}
    close = difflib.get_close_matches(parts[-1], ends, n=1, cutoff=0.75)
    return f" (did you mean {ends[close[0]]}?)" if close else ""
