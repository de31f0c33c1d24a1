"""The Keras table: every name a config may give Keras, with its arguments, read without TensorFlow.

`make signatures` (`python -m cbrun.build.signatures`) writes `signatures.json` from the
installed Keras (this module's `generate()` imports it): callbacks (`catalog/callbacks.py`),
optimizers, learning-rate schedules, losses and metrics (their string names and
their classes), and every public layer. Each argument is recorded with its JSON
Schema type(s), default, choices and the line of the docstring that documents
it; `cbrun/config/arguments.py` turns the table into the pydantic models a config is
validated with, and into the JSON Schema `cbrun schema` prints.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from cbrun.backend import load_keras

TABLE = Path(__file__).with_name("signatures.json")

# Where a default says nothing (None) or too little, the JSON Schema types an argument takes.
TYPES = {
    "min_delta": ["number"],
    "factor": ["number"],
    "min_lr": ["number"],
    "baseline": ["number", "null"],
    "initial_value_threshold": ["number", "null"],
    "save_freq": ["string", "integer"],
    "update_freq": ["string", "integer"],
    "profile_batch": ["integer", "array"],
    "embeddings_metadata": ["object", "string", "null"],
    "schedule": ["object"],
    "table": ["array"],
    "headers": ["object", "null"],
    "filepath": ["string"],
    "filename": ["string"],
    "backup_dir": ["string"],
    "learning_rate": ["number", "object"],  # a rate, or a schedule {name, args}
    "units": ["integer"],
    "filters": ["integer"],
    "rate": ["number"],
    "weight_decay": ["number", "null"],
    "clipnorm": ["number", "null"],
    "clipvalue": ["number", "null"],
    "global_clipnorm": ["number", "null"],
    "ema_overwrite_frequency": ["integer", "null"],
    "loss_scale_factor": ["number", "null"],
    "gradient_accumulation_steps": ["integer", "null"],
    "from_logits": ["boolean"],
    "mode": ["string"],
    "monitor": ["string"],
    "activation": ["string", "null"],
    "kernel_size": ["integer", "array"],
    "pool_size": ["integer", "array"],
    "strides": ["integer", "array", "null"],
    "target_shape": ["array"],
    # UnfreezeBackbone's (cbrun/build/callbacks/unfreeze_backbone.py)
    "at_epoch": ["integer"],
    "layers": ["integer", "string"],
}
# The callbacks' monitor direction. Applied only where the default is one of them:
# RandomFlip's `mode` (horizontal, vertical, ...) shares the name, not the values.
CHOICES = {"mode": ["auto", "min", "max"]}
# Choices a class's docstring gives in words, by class.
CLASS_CHOICES = {"RandomFlip": {"mode": ["horizontal", "vertical", "horizontal_and_vertical"]}}
_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _types(name: str, default, required: bool, known: dict) -> list[str]:
    if name in known:
        nullable = default is None and not required and "null" not in known[name]
        return known[name] + (["null"] if nullable else [])
    if required or default is None:
        return []  # any
    if isinstance(default, (list, tuple)):
        return ["array"]
    if isinstance(default, dict):
        return ["object"]
    return [_JSON_TYPE[type(default)]] if type(default) in _JSON_TYPE else []


def _json_default(value):
    if isinstance(value, tuple):
        value = list(value)
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value


def _arg_docs(doc: str) -> dict[str, str]:
    """`{argument: its description}` from a Keras-style `Args:` section."""
    found, current = {}, None
    for line in doc.splitlines():
        match = re.match(r"^\s{2,8}(\w+):\s*(.*)$", line)
        if match:
            current = match.group(1)
            found[current] = match.group(2).strip()
        elif current and line.strip() and not line.strip().endswith(":"):
            found[current] = (found[current] + " " + line.strip()).strip()
        elif not line.strip():
            current = None
    return {k: v[:300] for k, v in found.items()}


def _choices(owner: str, name: str, default) -> list:
    if name in CLASS_CHOICES.get(owner, {}):
        return CLASS_CHOICES[owner][name]
    choices = CHOICES.get(name, [])
    return choices if default in choices else []


def describe_class(obj, *, skip=(), known_types=TYPES) -> dict:
    """The record of one class or function: its arguments, and whether it takes **kwargs.

    `known_types` names the types a default cannot tell (Keras's own arguments, by
    name); cbrun's builders and users' plugins pass `{}`: their defaults tell.
    """
    function = obj.__init__ if inspect.isclass(obj) else obj
    doc = inspect.cleandoc(obj.__doc__ or "")
    docs = _arg_docs(doc)
    arguments, extra = [], False
    for param in inspect.signature(function).parameters.values():
        if param.name in ("self", *skip) or param.kind is param.VAR_POSITIONAL:
            continue
        if param.kind is param.VAR_KEYWORD:
            extra = True
            continue
        required = param.default is param.empty
        default = None if required else _json_default(param.default)
        arguments.append(
            {
                "name": param.name,
                "types": _types(param.name, default, required, known_types),
                "required": required,
                "default": default,
                "choices": _choices(getattr(obj, "__name__", ""), param.name, default),
                "doc": docs.get(param.name, ""),
            }
        )
    return {
        "summary": doc.splitlines()[0] if doc else "",
        "arguments": arguments,
        "accepts_extra": extra,
    }


def _public_classes(module, base) -> dict:
    return {
        name: obj
        for name, obj in sorted(vars(module).items())
        if inspect.isclass(obj) and issubclass(obj, base) and obj is not base
    }


def _direction(metric) -> str | None:
    return getattr(metric, "_direction", None)


def _losses(keras) -> dict:
    """Loss names a config may give as strings, and loss classes with their arguments."""
    loss_classes = _public_classes(keras.losses, keras.losses.Loss)
    loss_classes.pop("LossFunctionWrapper", None)
    loss_names = sorted(
        name
        for name in dir(keras.losses)
        if name[0].islower() and name not in ("get", "serialize", "deserialize")
        if callable(getattr(keras.losses, name))
    )
    for alias in ("mse", "mae", "mape", "msle", "kld", "logcosh", "huber"):
        try:
            keras.losses.get(alias)
        except ValueError:
            continue
        loss_names.append(alias)
    return {"names": sorted(set(loss_names)), "classes": _described(loss_classes)}


def _metrics(keras) -> dict:
    """Metric names (with the direction Keras infers for each) and metric classes."""
    metric_classes = _public_classes(keras.metrics, keras.metrics.Metric)
    for internal in ("Mean", "Sum", "MeanMetricWrapper", "Reduce"):
        metric_classes.pop(internal, None)
    metric_names = {"accuracy": "up", "acc": "up"}
    for name in [*dir(keras.metrics), "mse", "mae", "mape", "msle", "ce", "crossentropy"]:
        if not name[0].islower() or name in ("get", "serialize", "deserialize"):
            continue
        try:
            found = keras.metrics.get(name)
        except ValueError:
            continue
        if isinstance(found, keras.metrics.Metric):
            metric_names[name] = _direction(found)
        elif callable(found) and not inspect.isclass(found):
            metric_names[name] = _direction(keras.metrics.MeanMetricWrapper(found))
    metrics = {}
    for name, cls in metric_classes.items():
        record = describe_class(cls)
        try:
            record["direction"] = _direction(cls())
        except (TypeError, ValueError):
            record["direction"] = None  # needs arguments to exist; told by name below
        metrics[name] = record
    return {"names": dict(sorted(metric_names.items())), "classes": metrics}


def generate(optimizer_classes, applications=(), application_sets=()) -> dict:
    """Every Keras section of the table, from the live Keras (imports it): the optimizers
    named by `optimizer_classes`, the `keras.applications` constructors named by
    `applications` (without the arguments in `application_sets`, which cbrun sets), and
    every schedule, loss, metric and layer."""
    keras = load_keras()

    optimizers = {
        cls: describe_class(getattr(keras.optimizers, cls), skip=("name",))
        for cls in sorted(set(optimizer_classes))
    }
    schedules = {
        name: describe_class(cls)
        for name, cls in _public_classes(
            keras.optimizers.schedules, keras.optimizers.schedules.LearningRateSchedule
        ).items()
    }
    losses, metrics = _losses(keras), _metrics(keras)
    layers = {
        name: describe_class(cls)
        for name, cls in _public_classes(keras.layers, keras.layers.Layer).items()
        if name not in ("Layer", "InputLayer", "Lambda", "TFSMLayer", "TorchModuleWrapper")
        and not name.startswith("JaxLayer")
        and name != "FlaxLayer"
    }
    base_layer = describe_class(keras.layers.Layer, skip=("activity_regularizer",))
    backbones = {
        name: describe_class(getattr(keras.applications, name), skip=tuple(application_sets))
        for name in sorted(applications)
    }
    return {
        "applications": backbones,
        "optimizers": optimizers,
        "schedules": schedules,
        "losses": losses,
        "metrics": metrics,
        "layers": layers,
        "layer_base_arguments": base_layer["arguments"],
    }


def _described(classes: dict) -> dict:
    return {name: describe_class(cls) for name, cls in classes.items()}


def cache_path(version: str) -> Path:
    """Where a table for another Keras version is kept, in the user's cache folder."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "cbrun" / f"keras-table-{version}.json"


@cache
def table() -> dict:
    """The table of the installed Keras, read without importing it.

    The shipped table when it was made from the installed version; else one made for
    that version before (in the user's cache folder); else the shipped one, and a note
    on stderr saying so and what to run, once: never a silent mismatch.
    """
    shipped = json.loads(TABLE.read_text(encoding="utf-8"))
    made_from, installed = shipped["generated_from"]["keras"], installed_keras()
    if installed in (None, made_from):
        return shipped
    cached = cache_path(installed)
    if cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    print(
        f"note: cbrun checks configs against Keras {made_from}'s names and arguments, and Keras "
        f"{installed} is installed; `python -m cbrun.build.signatures --cache` makes a table "
        f"for {installed} (once, a few seconds)",
        file=sys.stderr,
    )
    return shipped


def installed_keras() -> str | None:
    try:
        return metadata.version("keras")
    except metadata.PackageNotFoundError:
        return None
