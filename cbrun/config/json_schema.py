"""The JSON Schema of a config, made from the same models the config is checked with.

`cbrun schema` prints it; editors give completion and squiggles from it. Every name's
arguments are unions discriminated on `name`, so an editor and the CLI never disagree.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from cbrun.catalog.backbones import BACKBONES
from cbrun.catalog.keras_table import table
from cbrun.catalog.models import OPTIMIZERS, model_names
from cbrun.config.arguments import args_model, records


def _entry(kind: str, name: str, *, name_field=None) -> type[BaseModel]:
    """`{name: <name>, args: {...}}` as a model: one member of a union on `name`."""
    model = args_model(kind, name)
    return create_model(
        f"{name}{kind.title()}",
        __config__=ConfigDict(extra="forbid", title=f"{name} ({kind})"),
        name=(name_field or Literal[name], ...),
        args=(model, Field(default_factory=dict)),
    )


def _union(members: list):
    return Union[tuple(members)] if len(members) > 1 else members[0]  # noqa: UP007


def _named_or_class(kind: str, names) -> object:
    """A string name, or a class entry `{name, args}`, for losses and metrics."""
    names = sorted(set(names) | set(records(kind)))
    classes = [_entry(kind, name) for name in records(kind)]
    return _union([Literal[tuple(names)], *classes])


def _callback_union(registry, base):
    """A built-in callback entry with its arguments, a plugin `module:Class`, or a name."""
    callbacks = [
        create_model(
            f"{name}Callback",
            __base__=base,
            name=(Literal[name], ...),
            args=(args_model("callback", name), Field(default_factory=dict)),
        )
        for name in registry.names()
        if name in records("callback") and not registry.get(name).unavailable
    ]
    plugin = create_model(
        "PluginCallback",
        __base__=base,
        name=(str, Field(..., pattern=r"^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$")),
    )
    return _union([*callbacks, plugin, Literal[tuple(registry.names())]])


def json_schema() -> dict:
    """The JSON Schema of a config, with every name's arguments (builds every model)."""
    from cbrun.catalog.callbacks import callback_registry
    from cbrun.config.spec import CallbackSpec, CompileSpec, ModelSpec, OptimizerSpec, RunSpec

    registry = callback_registry()
    callbacks = _callback_union(registry, CallbackSpec)
    names_of = {
        cls: tuple(k for k, v in OPTIMIZERS.items() if v == cls) for cls in OPTIMIZERS.values()
    }
    optimizers = [
        _entry("optimizer", cls, name_field=Literal[names_of[cls]]) for cls in sorted(names_of)
    ]
    layer_names = Literal[tuple(records("layer"))]
    layer = _union([layer_names, *(_entry("layer", n) for n in records("layer"))])
    sequential_args = create_model(
        "sequentialArgs", __config__=ConfigDict(extra="forbid"), layers=(list[layer], ...)
    )
    plugin_model = create_model(
        "PluginModel",
        __base__=ModelSpec,
        name=(str, Field(..., pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")),
    )
    models = [
        create_model(
            f"{name}Model",
            __base__=ModelSpec,
            name=(Literal[name], ...),
            args=(sequential_args if name == "sequential" else args_model("model", name), {}),
        )
        for name in model_names()
    ]
    backbones = [
        create_model(
            f"{name}Model",
            __base__=ModelSpec,
            name=(Literal[name], ...),
            args=(args_model("backbone", name), {}),
        )
        for name in BACKBONES
    ]
    compile_section = create_model(
        "CompileSpec",
        __base__=CompileSpec,
        optimizer=(_union([Literal[tuple(OPTIMIZERS)], *optimizers]), OptimizerSpec()),
        loss=(_named_or_class("loss", table()["losses"]["names"]), ...),
        metrics=(list[_named_or_class("metric", table()["metrics"]["names"])], []),
    )
    spec = create_model(
        "RunSpec",
        __base__=RunSpec,
        model=(_union([*models, *backbones, plugin_model]), ...),
        compile=(compile_section, ...),
        callbacks=(list[callbacks], []),
    )
    found = spec.model_json_schema()
    found["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    found["title"] = "cbrun config"
    return found
