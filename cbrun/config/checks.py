"""Every problem of a config, in words and at its position, before TensorFlow loads.

Two stages, both pydantic: the sections' own schema (`RunSpec`), whose errors
are put into words here (`pydantic_problem`); then everything the config names
(callbacks, the model and its layers, the optimizer and its schedule, the loss
and the metrics) against the argument models `arguments.py` generates from the
Keras table, and the rules that tie fields together: a `monitor` must be a key
the run logs, `mode: auto` needs a metric whose direction Keras knows, a
checkpoint's `filepath` must be one Keras can write, the loss must fit the model.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from cbrun.catalog.backbones import BACKBONES, is_backbone
from cbrun.catalog.callbacks import PATH_ARGUMENTS, callback_registry
from cbrun.catalog.datasets import AUGMENT_LAYERS, array_headers
from cbrun.catalog.images import folder_problems
from cbrun.catalog.keras_table import table
from cbrun.catalog.models import OPTIMIZERS, installed_builders, model_names
from cbrun.catalog.registry import did_you_mean, is_plugin, plugin_refusal
from cbrun.catalog.schedules import schedule_problems
from cbrun.config import arguments
from cbrun.config.backbone_checks import backbone_problems
from cbrun.config.backend_checks import backend_problems, distribute_problems
from cbrun.config.paths import suggest_path
from cbrun.config.shapes import init_from_problems, shape_problems
from cbrun.config.tracking import tracking_problems
from cbrun.config.yaml_loader import Document, describe_value, format_path
from cbrun.errors import Problem

# Where a problem is: the key path, the message, and whether it is placed at the key.
Found = tuple[tuple, str, bool]


# -- the sections' schema ---------------------------------------------------------------


def _model_at(root: type[BaseModel], loc: tuple):
    """The pydantic model class that holds the key at `loc` (for suggestions)."""
    model = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *(getattr(annotation, "__args__", None) or ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return None
    return model


_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}
_SIGNS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def pydantic_problem(doc: Document, error: dict, root: type[BaseModel]) -> Problem:
    """One pydantic error of the sections' schema, in words, at its position."""
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    path = format_path(loc)
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx", {})
    if kind == "extra_forbidden":
        where = doc.where(loc, key=True)
        if where.startswith("--set "):
            # Typed on the command line, maybe as part of the path: suggest the whole one.
            hint = suggest_path(where.removeprefix("--set ").partition("=")[0])
        else:
            model = _model_at(root, loc)
            hint = did_you_mean(str(loc[-1]), model.model_fields) if model else ""
        return Problem(where, path, f"unknown key{hint}")
    where = doc.where(loc)
    if kind == "missing":
        parent = format_path(loc[:-1])
        what = "section" if len(loc) == 1 else "key"
        place = f" in {parent}" if parent else ""
        return Problem(where, "", f"missing required {what} '{loc[-1]}'{place}")
    got = describe_value(value)
    if kind in _EXPECTED:
        return Problem(where, path, f"expected {_EXPECTED[kind]}, got {got}")
    if kind in _SIGNS:
        bound = ctx.get("gt", ctx.get("ge", ctx.get("lt", ctx.get("le"))))
        return Problem(where, path, f"must be {_SIGNS[kind]} {bound}, got {got}")
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        got = repr(value) if isinstance(value, str) else got
        return Problem(where, path, f"must be one of {', '.join(allowed)}; got {got}{hint}")
    return Problem(where, path, error["msg"].removeprefix("Value error, "))


# -- what the config names ---------------------------------------------------------------


def _named(kind: str, path: tuple, item, known: dict, *, names=(), word=None) -> list[Found]:
    """A name (one of `names`) or `{name, args}` (a class of `known`), checked."""
    word = word or kind
    if isinstance(item, str):
        if item in names or item in known:
            return []
        return [(path, arguments.unknown_name(word, item, [*names, *known]), False)]
    if isinstance(item, dict):
        name, args = item.get("name"), item.get("args") or {}
    else:
        name, args = item.name, item.args
    if name not in known:
        return [(path + ("name",), arguments.unknown_name(word, name, known), False)]
    return [
        (path + ("args",) + sub, message, key)
        for sub, message, key in arguments.arguments_problems(kind, name, args)
    ]


def _callbacks(spec) -> list[Found]:
    registry = callback_registry()
    found = []
    for index, item in enumerate(spec.callbacks):
        path = ("callbacks", index)
        if is_plugin(item.name, registry):
            continue  # a plugin: checked against the allow-list, described once loaded
        if item.name not in registry:
            message = f"unknown callback '{item.name}'{did_you_mean(item.name, registry.names())}"
            found.append((path + ("name",), message, False))
            continue
        entry = registry.get(item.name)
        if entry.unavailable:
            message = f"{item.name} cannot be used from a config: {entry.unavailable}"
            found.append((path + ("name",), message, False))
        elif entry.origin != "plugin":
            found += [
                (path + ("args",) + sub, message, key)
                for sub, message, key in arguments.arguments_problems(
                    "callback", item.name, item.args
                )
            ]
            found += _paths_and_schedule(path + ("args",), item.args)
    return found


def _paths_and_schedule(path: tuple, args: dict) -> list[Found]:
    found = []
    for key in PATH_ARGUMENTS:
        value = args.get(key)
        relative = PurePosixPath(value) if isinstance(value, str) else None
        if relative is not None and not relative.is_absolute() and ".." in relative.parts:
            message = (
                f"'{value}' leaves the run directory; write a path inside it, or an absolute one"
            )
            found.append((path + (key,), message, False))
    if isinstance(args.get("schedule"), dict) or "schedule" in args:
        found += [
            (path + ("schedule",) + sub, message, False)
            for sub, message in schedule_problems(args["schedule"])
        ]
    return found


def _model(spec) -> list[Found]:
    name = spec.model.name
    models = model_names()
    found = backbone_problems(spec)  # a backbone's, or the backbone-only keys elsewhere
    if is_backbone(name):
        return found
    if is_plugin(name, models) or name in installed_builders():
        return found  # a builder plugin: allowed or not before import, checked once loaded
    if name not in models:
        known = [*models, *BACKBONES]
        message = f"unknown model '{name}'{did_you_mean(name, known)}"
        return [(("model", "name"), message, False)]
    found += [
        (("model", "args") + sub, message, key)
        for sub, message, key in arguments.arguments_problems("model", name, spec.model.args)
    ]
    layers = spec.model.args.get("layers")
    if name == "sequential" and isinstance(layers, list):
        known = arguments.records("layer")
        for index, layer in enumerate(layers):
            path = ("model", "args", "layers", index)
            if (
                not isinstance(layer, (str, dict))
                or isinstance(layer, dict)
                and (not isinstance(layer.get("name"), str) or set(layer) - {"name", "args"})
            ):
                found.append((path, "each layer is a name or {name: ..., args: {...}}", False))
            elif (layer if isinstance(layer, str) else layer["name"]) == "Lambda":
                found.append((path, "Lambda layers hold Python code and are refused", False))
            else:
                found += _named("layer", path, layer, known, word="Keras layer")
    return found


def _optimizer(spec) -> list[Found]:
    path = ("compile", "optimizer")
    name, args = spec.compile.optimizer.name, spec.compile.optimizer.args
    if name.lower() not in OPTIMIZERS:
        hint = did_you_mean(name.lower(), OPTIMIZERS)
        return [(path + ("name",), f"unknown optimizer '{name}'{hint}", False)]
    if "decay" in args:
        message = "'decay' was removed from Keras optimizers; give learning_rate a schedule"
        return [(path + ("args", "decay"), message, True)]
    if "lr" in args:
        return [
            (
                path + ("args", "lr"),
                "'lr' was removed from Keras optimizers; write learning_rate",
                True,
            )
        ]
    cls = OPTIMIZERS[name.lower()]
    found = [
        (path + ("args",) + sub, message, key)
        for sub, message, key in arguments.arguments_problems("optimizer", cls, args)
    ]
    rate = args.get("learning_rate")
    if isinstance(rate, dict):
        found += _named(
            "schedule", path + ("args", "learning_rate"), rate, arguments.records("schedule")
        )
    elif isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate <= 0:
        found.append((path + ("args", "learning_rate"), f"must be a number > 0, got {rate}", False))
    return found


def _loss_and_metrics(spec) -> list[Found]:
    losses, metrics = table()["losses"], table()["metrics"]
    found = _named(
        "loss", ("compile", "loss"), spec.compile.loss, losses["classes"], names=losses["names"]
    )
    for index, metric in enumerate(spec.compile.metrics):
        path = ("compile", "metrics", index)
        found += _named("metric", path, metric, metrics["classes"], names=metrics["names"])
    return found


def _data(spec) -> list[Found]:
    data = spec.data
    if data.dataset == "arrays" and data.source != "path":
        if data.path is None:
            message = "dataset: arrays reads your own .npz: set data.path to it"
            return [(("data", "dataset"), message, False)]
        message = "dataset: arrays reads data.path: set source: path (or leave source out)"
        return [(("data", "source"), message, False)]
    if data.dataset == "image_folder":
        return _image_folder(data)
    for key in ("image_size", "cache"):
        if getattr(data, key) is not None:
            message = f"{key} is read for dataset: image_folder only"
            return [(("data", key), message, True)]
    if data.num_classes is not None and data.dataset != "arrays":
        message = f"num_classes is read for dataset: arrays only ({data.dataset} has 10)"
        return [(("data", "num_classes"), message, True)]
    if data.source == "path":
        if data.path is None:
            message = "source: path needs data.path (an .npz file or a folder of IDX files)"
            return [(("data", "source"), message, False)]
        if not Path(data.path).exists():
            return [(("data", "path"), f"no such file or folder: {data.path}", False)]
    elif data.path is not None:
        message = f"data.path is only read with source: path (source is {data.source})"
        return [(("data", "path"), message, False)]
    return []


def _image_folder(data) -> list[Found]:
    """A folder of class folders of images, each file an image, and the size to make them."""
    if data.path is None:
        message = "dataset: image_folder reads a folder of class folders: set data.path to it"
        return [(("data", "dataset"), message, False)]
    if data.num_classes is not None:
        return [(("data", "num_classes"), "the class folders say how many classes", True)]
    found = [
        # a file's line names the file; the folder's own problem names the folder
        (("data", "path"), line if line.startswith(data.path) else f"{data.path}: {line}", False)
        for line in folder_problems(Path(data.path))
    ]
    if data.image_size is None:
        message = "image_folder needs image_size: [height, width], the size images are resized to"
        found.append((("data", "dataset"), message, False))
    return found


def _augment(spec) -> list[Found]:
    """`data.augment`: augmentation layers by name, their arguments, and images to apply
    them to (MNIST's are; your arrays must be rows of height x width x channels)."""
    data, found = spec.data, []
    layers = arguments.records("layer")
    known = {name: layers[name] for name in AUGMENT_LAYERS if name in layers}
    for index, item in enumerate(data.augment):
        path = ("data", "augment", index)
        name, args = (item, {}) if isinstance(item, str) else (item.name, item.args)
        if name in layers and name not in known:
            message = f"{name} is not an augmentation layer: one of {', '.join(known)}"
            found.append((path if isinstance(item, str) else path + ("name",), message, False))
            continue
        if "seed" in args:
            message = "leave seed out: each draw is seeded from the run's seed, epoch and step"
            found.append((path + ("args", "seed"), message, False))
            continue
        found += _named("layer", path, item, known, word="augmentation layer")
    if data.augment and data.dataset == "arrays" and data.path:
        header = array_headers(Path(data.path)).get("x_train")
        if header is not None and len(header[0]) != 4:
            shape = "x".join(map(str, header[0][1:]))
            message = f"augment needs images (height x width x channels); x_train rows are {shape}"
            found.append((("data", "augment"), message, False))
    return found


# Each check of what a config names, with the sections it reads: a section that failed
# the schema skips only the checks that read it.
_CHECKS = (
    (_data, {"data"}),
    (_augment, {"data"}),
    (distribute_problems, {"fit", "distribute", "backend"}),
    (backend_problems, {"backend", "distribute"}),
    (_model, {"model"}),
    (_optimizer, {"compile"}),
    (_loss_and_metrics, {"compile"}),
    (_callbacks, {"callbacks"}),
    (shape_problems, {"data", "model"}),
    (init_from_problems, {"data", "model"}),
    (tracking_problems, {"tracking", "callbacks"}),
)


def _plugins(spec, allow_plugins) -> list[Found]:
    """Every plugin reference against the allow-list (`plugins:` and `--allow-plugin`),
    here, with its file:line and before TensorFlow, rather than once the run starts."""
    allowed = set(spec.plugins) | set(allow_plugins)
    named = []
    if "model" in spec.model_fields_set and is_plugin(spec.model.name, model_names()):
        if spec.model.name not in installed_builders():
            named.append((("model", "name"), spec.model.name))
    registry = callback_registry()
    for index, item in enumerate(spec.callbacks if "callbacks" in spec.model_fields_set else []):
        if is_plugin(item.name, registry):
            named.append((("callbacks", index, "name"), item.name))
    return [
        (path, refusal, False)
        for path, name in named
        if (refusal := plugin_refusal(name, allowed)) is not None
    ]


def named_problems(
    spec, broken: frozenset = frozenset(), allow_plugins=(), resuming: bool = False
) -> list[Found]:
    """Problems of everything the config names, and of its cross-field rules, in one pass.

    `broken` holds the top-level sections that failed the schema (the spec has none of
    them): a check or rule that reads one is skipped, every other one runs. A cross-field
    rule also skips what a problem found here already names (a callback unknown, a
    loss misspelled), so one mistake is said once. A run `resuming` from its own
    checkpoint (or a finished run's own config, its model saved) never reads
    `model.init_from` or a backbone's `model.weights` again: they are not checked."""
    from cbrun.config.rules import cross_field_problems

    found = []
    if resuming:  # the weights' sources are not read again (run/resume.without_sources)
        update = {"init_from": None, "weights": None}
        spec = spec.model_copy(update={"model": spec.model.model_copy(update=update)})
    for check, needs in _CHECKS:
        if not needs & broken:
            found += check(spec)
    found += _plugins(spec, allow_plugins)
    named = {path[:2] for path, _, _ in found} | {path[:1] for path, _, _ in found}
    return found + cross_field_problems(spec, broken, named)
