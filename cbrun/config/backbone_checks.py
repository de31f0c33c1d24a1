"""The checks of a `keras.applications` backbone as `model.name`, before TensorFlow: its
arguments against the Keras table, the ones cbrun sets itself, the data's image size and
channels against the family's, and `model.weights` (cbrun/catalog/backbones.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cbrun.catalog.backbones import BACKBONES, CBRUN_SETS, is_backbone
from cbrun.config import arguments
from cbrun.config.shapes import _feature_shape, resolve_flatten

_HDF5 = b"\x89HDF\r\n\x1a\n"
BACKBONE_ONLY = ("weights", "freeze", "head")


def backbone_problems(spec) -> list:
    """`(path, message, at the key)` for everything wrong with a backbone config; for any
    other model, the backbone-only keys it sets."""
    model = spec.model
    if not is_backbone(model.name):
        # Set to something other than the default (a copy made with `weights: None` is fine).
        defaults = type(model).model_fields
        return [
            (("model", key), f"only for keras.applications backbones, not {model.name}", True)
            for key in BACKBONE_ONLY
            if getattr(model, key) != defaults[key].default
        ]
    found = []
    args = dict(model.args) if isinstance(model.args, dict) else model.args
    if isinstance(args, dict):
        for key in [k for k in args if k in CBRUN_SETS]:
            found.append((("model", "args", key), f"cbrun sets it: {CBRUN_SETS[key]}", True))
            args.pop(key)
    found += [
        (("model", "args") + sub, message, key)
        for sub, message, key in arguments.arguments_problems("backbone", model.name, args)
    ]
    found += _input_problems(spec)
    found += _weights_problems(spec)
    return found


def _input_problems(spec) -> list:
    """Images of at least the family's size, with 1 or 3 channels, and class labels."""
    name, family = spec.model.name, BACKBONES[spec.model.name]
    sized = spec.data.dataset == "image_folder" and spec.data.image_size is not None
    where = ("data", "image_size") if sized else ("data",)
    shape = _feature_shape(spec.data, resolve_flatten(spec.data, name))
    if shape is None:
        return []
    if len(shape) != 3:
        message = f"{name} takes images (height, width, channels); the data gives {shape}"
        return [(where, message + ": set data.flatten: false", False)]
    height, width, channels = shape
    if min(height, width) < family.min_size:
        size = f"{family.min_size}x{family.min_size}"
        hint = "data.image_size" if spec.data.dataset == "image_folder" else "larger images"
        message = f"{name} needs images of at least {size}; the data's are {height}x{width}: "
        return [
            (where, message + f"give {hint} (an image folder resizes to data.image_size)", False)
        ]
    if channels not in (1, 3):
        message = (
            f"{name} takes RGB images (or grayscale, repeated to RGB); the data has "
            f"{channels} channels"
        )
        return [(where, message, False)]
    return []


def _weights_problems(spec) -> list:
    """`model.weights`: imagenet, null, a readable HDF5 weights file, or a finished run
    folder whose model is the same backbone with the same arguments."""
    weights, where = spec.model.weights, ("model", "weights")
    if weights is None or weights == "imagenet":
        return []
    path = Path(weights)
    if path.is_dir():
        return _run_folder_problems(spec, path, where)
    if not path.is_file():
        message = (
            f"{weights}: no such file or folder; give imagenet, null, a .weights.h5 file or "
            "a run folder"
        )
        return [(where, message, False)]
    if not path.name.endswith(".h5"):
        return [(where, f"{weights}: not a .weights.h5 (or .h5) file", False)]
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as error:
        return [(where, f"{weights}: cannot be read ({error.strerror})", False)]
    if head != _HDF5:
        return [(where, f"{weights}: not an HDF5 weights file (truncated or damaged)", False)]
    return []


def _run_folder_problems(spec, folder: Path, where) -> list:
    if not (folder / "model.keras").is_file() or not (folder / "config.yaml").is_file():
        return [
            (where, f"{folder}: not a finished run folder (no model.keras and config.yaml)", False)
        ]
    try:
        theirs = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        return [(where, f"{folder}: its config.yaml is not a run's ({error})", False)]
    mine = (spec.model.name, spec.model.args)
    if (theirs.get("name"), theirs.get("args", {})) != mine:
        message = (
            f"{folder} trained {theirs.get('name')} {theirs.get('args', {})}; this run builds "
            f"{spec.model.name} {spec.model.args}: its backbone's weights would not fit"
        )
        return [(where, message, False)]
    return []
