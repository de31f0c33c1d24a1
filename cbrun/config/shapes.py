"""Does the model take the data? Answered from the config and the files' headers alone.

`data.flatten: auto` (the default) becomes a decision here: MNIST is fed as flat rows of
784 to the models that take vectors and as 28x28x1 images to `cnn` and to a plugin
builder; your own arrays are fed exactly as they are. A model that cannot take what the
data is, or arrays whose header claims more memory than the machine has, is a config
problem at `model.name` (or `data.flatten`, `data.path`), before TensorFlow loads.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import yaml

from cbrun.catalog.datasets import (
    IMAGES,
    Unreadable,
    array_headers,
    layout_problem,
    memory_bytes,
    read_headers,
)
from cbrun.catalog.images import folder_classes
from cbrun.catalog.models import MODEL_INPUTS
from cbrun.config.spec import DataSpec


def resolve_flatten(data, model_name: str) -> bool:
    """`data.flatten` as set, or what `auto` means for this data and model."""
    if isinstance(data.flatten, bool):
        return data.flatten
    if data.dataset == "arrays":
        return False  # as given
    return MODEL_INPUTS.get(model_name, "images") == "vectors"


def _feature_shape(data, flatten: bool) -> tuple | None:
    """The shape of one sample as the model will get it; None when it cannot be known."""
    if data.dataset == "arrays":
        header = array_headers(Path(data.path)).get("x_train") if data.path else None
        if header is None or not header[0]:
            return None
        shape = header[0][1:]
    elif data.dataset == "image_folder":
        if data.image_size is None:
            return None
        shape = (*data.image_size, 1 if data.color_mode == "grayscale" else 3)
    else:
        shape = IMAGES[data.dataset]
    return (math.prod(shape),) if flatten else tuple(shape)


def _layout(data) -> list:
    """An arrays file that is not an .npz of the four arrays, from its headers alone."""
    if data.dataset != "arrays" or not data.path or not Path(data.path).is_file():
        return []  # a missing path is the data checks' to say
    try:
        problem = layout_problem(read_headers(Path(data.path)))
    except Unreadable as error:
        problem = str(error)
    return [(("data", "path"), f"{data.path}: {problem}", False)] if problem else []


def _too_big(data) -> list:
    """Arrays whose headers claim more bytes than the machine's memory."""
    if data.dataset != "arrays" or not data.path:
        return []
    memory = memory_bytes()
    headers = array_headers(Path(data.path))
    claimed = sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers.values())
    if memory is None or claimed <= memory:
        return []
    message = (
        f"its arrays claim {claimed / 2**30:,.1f} GiB (x_train {headers['x_train'][0]}, "
        f"{headers['x_train'][1]}), more than this machine's {memory / 2**30:,.1f} GiB"
        if "x_train" in headers
        else f"its arrays claim {claimed / 2**30:,.1f} GiB, more than this machine's memory"
    )
    return [(("data", "path"), message, False)]


# Bytes a trainable float32 parameter costs while training: its value, its gradient and
# two optimizer slots (Adam's moments).
BYTES_PER_PARAMETER = 4 * 4


def _whole(values) -> list[int] | None:
    ok = isinstance(values, (list, tuple)) and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    )
    return list(values) if ok else None


def parameter_estimate(spec, shape: tuple, classes: int) -> int | None:
    """The built-in builders' parameter count from their arguments (None: not known)."""
    name, args, size = spec.model.name, spec.model.args, math.prod(shape)
    if name == "linear":
        return size + 1
    if name == "mlp":
        units = _whole(args.get("units", [64]))
        if units is None:
            return None
        sizes = [size, *units, classes]
        return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if name == "cnn" and len(shape) == 3:
        filters, dense = _whole(args.get("filters", [32, 64])), args.get("dense", 128)
        if filters is None or _whole([dense]) is None:
            return None
        height, width, channels = shape
        params = 0
        for count in filters:
            params += 9 * channels * count + count
            height, width, channels = max(height // 2, 1), max(width // 2, 1), count
        return params + (height * width * channels + 1) * dense + (dense + 1) * classes
    return None


def _too_many_parameters(spec) -> list:
    data = spec.data
    shape = _feature_shape(data, resolve_flatten(data, spec.model.name))
    memory = memory_bytes()
    if shape is None or memory is None:
        return []
    if data.dataset == "image_folder":
        classes = folder_classes(data) or 1
    else:
        classes = data.num_classes or (10 if data.dataset != "arrays" else 1)
    params = parameter_estimate(spec, shape, classes)
    if params is None or params * BYTES_PER_PARAMETER <= memory:
        return []
    need = params * BYTES_PER_PARAMETER / 2**30
    message = (
        f"model {spec.model.name} would have about {params:,} parameters, {need:,.1f} GiB to "
        f"train (weights, gradients, optimizer slots); this machine has {memory / 2**30:,.1f} GiB"
    )
    return [(("model", "args"), message, False)]


def shape_problems(spec) -> list:
    """The model against the data's shape, and both against the machine's memory."""
    found = _too_big(spec.data) or _layout(spec.data) or _too_many_parameters(spec)
    if found:
        return found
    name, data = spec.model.name, spec.data
    if MODEL_INPUTS.get(name) != "images":
        return found  # vectors: Flatten takes any shape; a plugin decides for itself
    flatten = resolve_flatten(data, name)
    shape = _feature_shape(data, flatten)
    if shape is None or len(shape) == 3:
        return found
    if flatten is True and data.flatten is True:
        message = f"model {name} takes images; flat rows of {shape[0]} would not fit: remove this"
        return [(("data", "flatten"), message + " (auto keeps images for it)", False)]
    return [
        (
            ("model", "name"),
            f"model {name} takes images (height, width, channels); the data's samples have "
            f"shape {shape}: reshape your arrays to (N, H, W, C), or use model mlp",
            False,
        )
    ]


def init_from_problems(spec) -> list:
    """`model.init_from`: a finished run folder with a model.keras of the same model, fed
    data of the same shape (its weights must fit this model, variable for variable)."""
    source = spec.model.init_from
    if not source:
        return []
    where, folder = ("model", "init_from"), Path(source)
    if not (folder / "model.keras").is_file() or not (folder / "config.yaml").is_file():
        message = f"{source}: not a finished run folder (no model.keras and config.yaml)"
        return [(where, message, False)]
    if not zipfile.is_zipfile(folder / "model.keras"):  # Keras would say "File not found"
        message = f"{folder / 'model.keras'}: not a readable .keras file (truncated or damaged)"
        return [(where, message, False)]
    try:  # a run's config.yaml is resolved: read as data, no second validation needed
        theirs = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        model, data = theirs["model"], DataSpec.model_validate(theirs["data"])
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        return [(where, f"{source}: its config.yaml is not a run's ({error})", False)]
    mine = _feature_shape(spec.data, resolve_flatten(spec.data, spec.model.name))
    their_shape = _feature_shape(data, resolve_flatten(data, model.get("name", "")))
    same = (model.get("name"), model.get("args", {})) == (spec.model.name, spec.model.args)
    if same and (None in (mine, their_shape) or mine == their_shape):
        return []
    message = (
        f"{source} trained model {model.get('name')} {model.get('args', {})} on samples of "
        f"shape {their_shape}; this run builds {spec.model.name} {spec.model.args} on {mine}: "
        "its weights would not fit"
    )
    return [(where, message, False)]
