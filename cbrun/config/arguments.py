"""The argument models of everything a config names, generated from one table.

Every callback, optimizer, learning-rate schedule, loss and metric class, Keras
layer and model builder gets a pydantic model of its arguments, made with
`create_model` from the Keras table (`keras_signatures.py`) or from the live
signature of a cbrun builder: strict types, unknown arguments refused (also
where Keras takes `**kwargs` and would ignore them), choices, required ones,
defaults and the docstring's words as descriptions. The config is checked
against these models (`arguments_problems`), and `json_schema()` exports the
same models, as unions discriminated on `name`, for editors. Models are built
on first use: a config pays only for the names it uses.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from cbrun.catalog.keras_table import table
from cbrun.catalog.models import OPTIMIZERS, model_names
from cbrun.catalog.registry import did_you_mean
from cbrun.config.yaml_loader import describe_value

_PYTHON = {
    "number": float,
    "integer": int,
    "boolean": bool,
    "string": str,
    "array": list,
    "object": dict,
    "null": type(None),
}
_WORDS = {
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
# What a config names, by kind: where its records are in the table.
KINDS = {
    "callback": ("callbacks",),
    "optimizer": ("optimizers",),
    "schedule": ("schedules",),
    "loss": ("losses", "classes"),
    "metric": ("metrics", "classes"),
    "layer": ("layers",),
    "backbone": ("applications",),
}


def records(kind: str) -> dict:
    """`{name: record}` of one kind, from the table."""
    found = table()
    for key in KINDS[kind]:
        found = found[key]
    return found


def type_words(types: list[str]) -> str:
    return " or ".join(_WORDS[t] for t in types) if types else "anything"


def _annotation(argument: dict):
    if argument.get("choices"):
        return Literal[tuple(argument["choices"])]
    types = argument.get("types") or []
    if not types:
        return Any
    members = tuple(_PYTHON[t] for t in types)
    return Union[members] if len(members) > 1 else members[0]  # noqa: UP007 - built at run time


def _model(title: str, arguments: list[dict]) -> type[BaseModel]:
    """A strict model of `arguments`; fields are aliased, so any argument name is safe."""
    fields = {}
    for index, argument in enumerate(arguments):
        default = ... if argument.get("required") else argument.get("default")
        fields[f"arg{index}"] = (
            _annotation(argument),
            Field(
                default,
                alias=argument["name"],
                description=argument.get("doc") or None,
                validate_default=False,
            ),
        )
    config = ConfigDict(extra="forbid", strict=True, populate_by_name=False, title=title)
    return create_model(title, __config__=config, **fields)


@cache
def arguments_of(kind: str, name: str) -> tuple[dict, ...]:
    """The argument records of one named thing (layers get the base Layer's too)."""
    if kind == "model":
        return _builder_arguments(name)
    arguments = list(records(kind)[name]["arguments"])
    if kind == "layer":
        own = {a["name"] for a in arguments}
        arguments += [a for a in table()["layer_base_arguments"] if a["name"] not in own]
    return tuple(arguments)


@cache
def args_model(kind: str, name: str) -> type[BaseModel]:
    """The generated model of `name`'s arguments (a `kind` of thing, e.g. `callback`)."""
    return _model(f"{name}Args", list(arguments_of(kind, name)))


def _builder_arguments(name: str) -> tuple[dict, ...]:
    """A cbrun model builder's arguments, as the table records its signature."""
    return tuple(table()["models"][name]["arguments"])


# -- checking ---------------------------------------------------------------------------


def arguments_problems(kind: str, name: str, args: dict) -> list[tuple[tuple, str, bool]]:
    """`(sub-path, message, at the key)` for each problem of `args` given to `name`."""
    if not isinstance(args, dict):
        return [((), f"expected a mapping of arguments, got {describe_value(args)}", False)]
    model = args_model(kind, name)
    try:
        model.model_validate(args)
    except ValidationError as error:
        return _explained(name, arguments_of(kind, name), args, error.errors())
    return []


def _explained(name, arguments, args, errors) -> list[tuple[tuple, str, bool]]:
    by_name = {a["name"]: a for a in arguments}
    problems, seen = [], set()
    for error in errors:
        key = error["loc"][0] if error["loc"] else None
        if key in seen:
            continue  # a union reports each member; one line per argument
        seen.add(key)
        if error["type"] == "extra_forbidden":
            hint = did_you_mean(str(key), list(by_name))
            problems.append(((key,), f"unknown argument of {name}{hint}", True))
        elif error["type"] == "missing":
            problems.append(((), f"{name} needs the argument '{key}'", False))
        elif by_name.get(key, {}).get("choices"):
            choices = by_name[key]["choices"]
            got = describe_value(args.get(key))
            problems.append(((key,), f"must be one of {', '.join(choices)}; got {got}", False))
        else:
            words = type_words(by_name.get(key, {}).get("types") or [])
            got = describe_value(args.get(key))
            problems.append(((key,), f"expected {words}, got {got}", False))
    return problems


def live_arguments_problems(obj, name: str, args: dict, skip=()) -> list[tuple[tuple, str, bool]]:
    """`arguments_problems` for a loaded plugin, from its live signature (none checked
    when it takes `**kwargs`)."""
    from cbrun.catalog.keras_table import describe_class

    record = describe_class(obj, skip=skip, known_types={})
    if record["accepts_extra"]:
        return []
    arguments = record["arguments"]
    model = _model(f"{name}Args", arguments)
    try:
        model.model_validate(args)
    except ValidationError as error:
        return _explained(name, arguments, args, error.errors())
    return []


def unknown_name(kind: str, name, known) -> str:
    if not isinstance(name, str):
        return f"a {kind} is named by a string, got {describe_value(name)}"
    return f"unknown {kind} '{name}'{did_you_mean(name, list(known))}"


def defaults_of(kind: str, name: str) -> dict:
    """Every argument with its default (required ones left out): what `validate` shows."""
    return {a["name"]: a.get("default") for a in arguments_of(kind, name) if not a.get("required")}


def with_defaults(data: dict) -> dict:
    """A resolved config (plain data) with every argument's default written out: the
    callbacks', the model builder's, each layer's, the optimizer's, and those of loss and
    metric classes. What `cbrun validate` shows; a run's `config.yaml` keeps what was given."""

    def filled(kind, name, args):
        known = name in records(kind) if kind != "model" else True
        return {**defaults_of(kind, name), **args} if known else args

    model = data["model"]
    if model["name"] in model_names():
        model["args"] = filled("model", model["name"], model["args"])
    for index, layer in enumerate(model["args"].get("layers") or []):
        item = {"name": layer} if isinstance(layer, str) else dict(layer)
        if item["name"] in records("layer"):
            item["args"] = filled("layer", item["name"], item.get("args") or {})
            model["args"]["layers"][index] = item
    optimizer = data["compile"]["optimizer"]
    optimizer["args"] = filled(
        "optimizer", OPTIMIZERS[optimizer["name"].lower()], optimizer["args"]
    )
    for key, kind in (("loss", "loss"), ("metrics", "metric")):
        items = data["compile"][key] if key == "metrics" else [data["compile"][key]]
        for item in items:
            if isinstance(item, dict):
                item["args"] = filled(kind, item["name"], item["args"])
    for item in data["callbacks"]:
        item["args"] = filled("callback", item["name"], item["args"])
    return data
