"""The rules that tie a config's fields together, checked before TensorFlow loads.

- Every `monitor` is a key the run will log: `loss`, each metric under the name
  Keras logs it by, their `val_` twins only when there is validation data, and
  `learning_rate`. A callback that monitors `val_loss` by default is caught too.
- `mode: auto` needs a monitored value whose direction Keras knows.
- `ModelCheckpoint.filepath` ends in `.keras` (`.weights.h5` with
  `save_weights_only`), and its `{placeholders}` are `epoch`, `batch` or logged keys.
- The loss fits the model's output: one unit (the guide's `linear`) is a
  regression; a softmax over the classes needs a sparse categorical loss, since
  the labels are class numbers, not one-hot rows.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from cbrun.catalog.backbones import is_backbone
from cbrun.catalog.datasets import array_headers, names_in
from cbrun.catalog.images import folder_classes
from cbrun.catalog.keras_table import table
from cbrun.catalog.registry import did_you_mean
from cbrun.config import arguments

NUM_CLASSES = 10  # MNIST and Fashion-MNIST
_PER_CLASS_OUTPUT = {"mlp", "cnn"}
_SPARSE = {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}
_ONE_HOT = {
    "categorical_crossentropy",
    "CategoricalCrossentropy",
    "categorical_focal_crossentropy",
    "CategoricalFocalCrossentropy",
    "categorical_hinge",
    "CategoricalHinge",
}

# Losses that regress the label as a number: a class weight has no class to weigh there.
_REGRESSION = {
    "mean_squared_error", "mse", "MeanSquaredError", "mean_absolute_error", "mae",
    "MeanAbsoluteError", "mean_absolute_percentage_error", "mape",
    "MeanAbsolutePercentageError", "mean_squared_logarithmic_error", "msle",
    "MeanSquaredLogarithmicError", "huber", "Huber", "log_cosh", "LogCosh", "poisson",
    "Poisson", "cosine_similarity", "CosineSimilarity",
}  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def logged_metrics(spec) -> dict[str, str | None]:
    """`{key Keras logs: its direction}` for the loss and every metric (no `val_`)."""
    metrics = table()["metrics"]
    logged = {"loss": "down"}
    for metric in spec.compile.metrics:
        if isinstance(metric, str):
            logged[metric] = metrics["names"].get(metric)
            continue
        record = metrics["classes"].get(metric.name, {})
        default = next(
            (a["default"] for a in record.get("arguments", []) if a["name"] == "name"), None
        )
        name = metric.args.get("name") or (default if isinstance(default, str) else None)
        logged[name or _snake(metric.name)] = record.get("direction")
    return logged


def _has_validation(spec) -> bool:
    if spec.data.validation_split > 0:
        return True
    if spec.data.dataset == "arrays" and spec.data.path:
        names = names_in(Path(spec.data.path))
        # An unreadable file is data.path's one problem; never a second one here.
        return "x_val" in names or not names
    return False


def _classes(spec) -> int | None:
    """How many classes the labels have, where the config alone says."""
    if spec.data.dataset == "image_folder":
        return folder_classes(spec.data) or None
    return NUM_CLASSES if spec.data.dataset != "arrays" else spec.data.num_classes


def logged_keys(spec) -> dict[str, str | None]:
    """Every key an epoch's logs will hold, with its direction."""
    logged = logged_metrics(spec)
    if _has_validation(spec):
        logged.update({f"val_{k}": v for k, v in list(logged.items())})
    logged["learning_rate"] = None
    return logged


def _argument(name: str, argument: str) -> dict | None:
    """The table's record of a built-in callback's argument, if it has one."""
    if name not in arguments.records("callback"):
        return None
    found = arguments.arguments_of("callback", name)
    return next((a for a in found if a["name"] == argument), None)


def _argument_default(name: str, argument: str):
    return (_argument(name, argument) or {}).get("default")


def _monitor(path: tuple, item, keys: dict) -> list:
    monitor = item.args.get("monitor", _argument_default(item.name, "monitor"))
    if not isinstance(monitor, str):
        return []
    where = path + ("args", "monitor") if "monitor" in item.args else path + ("name",)
    if monitor not in keys:
        said = "" if "monitor" in item.args else " by default"
        if monitor.startswith("val_") and monitor[4:] in keys:
            why = (
                "there is no validation data: set data.validation_split, or monitor " + monitor[4:]
            )
        else:
            why = f"the run logs {', '.join(sorted(keys))}{did_you_mean(monitor, keys)}"
        return [
            (
                where,
                f"{item.name} monitors '{monitor}'{said}, which the run never logs; {why}",
                False,
            )
        ]
    mode = item.args.get("mode", _argument_default(item.name, "mode"))
    if mode == "auto" and keys[monitor] is None:
        message = (
            f"Keras cannot tell whether '{monitor}' should go up or down: set mode: min or max"
        )
        return [(path + ("args",), message, False)]
    return []


def _filepath(path: tuple, item, keys: dict) -> list:
    filepath = item.args.get("filepath")
    if not isinstance(filepath, str):
        return []
    where = path + ("args", "filepath")
    weights_only = item.args.get("save_weights_only") is True
    suffix = ".weights.h5" if weights_only else ".keras"
    if not filepath.endswith(suffix):
        what = (
            "with save_weights_only, Keras 3 saves weights"
            if weights_only
            else "Keras 3 saves models"
        )
        return [(where, f"'{filepath}' must end in {suffix}: {what} only as {suffix}", False)]
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(filepath) if f]
    except ValueError as error:
        return [(where, f"'{filepath}' is not a valid format string ({error})", False)]
    allowed = {"epoch", "batch", *keys}
    unknown = [f for f in fields if f.split(".")[0].split("[")[0] not in allowed]
    if unknown:
        hint = did_you_mean(unknown[0], allowed)
        known = ", ".join(sorted(allowed))
        message = f"'{{{unknown[0]}}}' is not a logged key{hint}; it can be one of {known}"
        return [(where, message, False)]
    return []


def _output_units(spec, classes: int | None) -> int | None:
    """How many outputs the model has, where the config alone says."""
    if spec.model.name == "linear":
        return 1
    if spec.model.name in _PER_CLASS_OUTPUT or is_backbone(spec.model.name):
        return classes
    layers = spec.model.args.get("layers") if spec.model.name == "sequential" else None
    last = layers[-1] if isinstance(layers, list) and layers else None
    if isinstance(last, dict) and last.get("name") == "Dense":
        units = (last.get("args") or {}).get("units")
        return units if isinstance(units, int) else None
    return None


def _loss(spec) -> list:
    loss = spec.compile.loss if isinstance(spec.compile.loss, str) else spec.compile.loss.name
    classes = _classes(spec)
    units = _output_units(spec, classes)
    if loss in _ONE_HOT:
        message = (
            f"{loss} needs one-hot labels; the labels here are class numbers: use "
            "sparse_categorical_crossentropy"
        )
    elif loss in _SPARSE and units == 1 and classes != 1:
        message = (
            f"{loss} needs one output per class ({classes or 'one per label'}); model "
            f"{spec.model.name} has one: use mean_squared_error, or model mlp"
        )
    elif loss in _SPARSE and None not in (units, classes) and units < classes:
        message = f"{loss} needs one output per class ({classes}); the last layer has {units} units"
    else:
        return []
    return [(("compile", "loss"), message, False)]


def _rate_setters(spec) -> list:
    """A schedule as the learning rate leaves nothing for a callback to set."""
    if not isinstance(spec.compile.optimizer.args.get("learning_rate"), dict):
        return []
    return [
        (
            ("callbacks", index, "name"),
            f"{item.name} sets the learning rate, which is a "
            "schedule here (compile.optimizer.args.learning_rate): give a number instead",
            False,
        )
        for index, item in enumerate(spec.callbacks)
        if item.name in ("ReduceLROnPlateau", "LearningRateScheduler", "ScheduledLearningRate")
    ]


def _class_weight(spec) -> list:
    """Class weights name classes the labels have, and the labels are classes."""
    weights, where = spec.fit.class_weight, ("fit", "class_weight")
    if weights is None:
        return []
    if spec.data.dataset == "arrays" and spec.data.path:
        header = array_headers(Path(spec.data.path)).get("y_train")
        if header is not None and header[1].kind == "f":
            return [
                (where, "needs class labels; the targets here are floats (a regression)", False)
            ]
    loss = spec.compile.loss if isinstance(spec.compile.loss, str) else spec.compile.loss.name
    if loss in _REGRESSION:
        message = (
            f"weighs classes, but compile.loss {loss} regresses the label as a number: use a "
            "classification loss (sparse_categorical_crossentropy, with model mlp or cnn), "
            "or leave class_weight out"
        )
        return [(where, message, False)]
    classes = _classes(spec)
    if isinstance(weights, dict) and classes is not None:
        beyond = sorted(k for k in weights if k >= classes)
        if beyond:
            message = f"class {beyond[0]} is not a class: the labels are 0-{classes - 1}"
            return [(where, message, False)]
    return []


def cross_field_problems(spec, broken=frozenset(), named=frozenset()) -> list:
    """The rules between fields. `broken`: sections that failed the schema; `named`: the
    paths (first one or two keys) where a problem was already found. A rule runs only
    when everything it reads is sound."""
    if broken & {"data", "compile"}:
        return []  # what the run logs is unknown: no rule can be judged
    keys = logged_keys(spec)
    found = []
    if not broken & {"model"} and not named & {("model",), ("compile", "loss")}:
        found += _loss(spec)
    if "fit" not in broken:
        found += _class_weight(spec)
    if "callbacks" in broken:
        return found
    if ("compile", "optimizer") not in named:
        found += _rate_setters(spec)
    for index, item in enumerate(spec.callbacks):
        if ("callbacks", index) in named:
            continue
        # Every callback that takes a `monitor` (or a checkpoint `filepath`), by its signature.
        # A monitor is judged against the metrics: not while one of them is unknown.
        if _argument(item.name, "monitor") is not None and ("compile", "metrics") not in named:
            found += _monitor(("callbacks", index), item, keys)
        if _argument(item.name, "filepath") is not None:
            found += _filepath(("callbacks", index), item, keys)
    return found
