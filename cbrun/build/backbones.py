"""A `keras.applications` backbone as a cbrun model: the input as the data gives it,
grayscale repeated to RGB, the family's preprocessing, the backbone (named `backbone`,
frozen or not, with its starting weights), then the head: pooling, dropout and
Dense(num_classes) with a softmax. Every layer is a standard one, so the model saves,
loads in safe mode and exports with its preprocessing inside
(cbrun/catalog/backbones.py has the families' facts).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from cbrun.backend import load_keras
from cbrun.catalog.backbones import (
    BACKBONES,
    CAFFE_MEAN_BGR,
    IMAGENET_MEAN_RGB,
    IMAGENET_STD_RGB,
    imagenet_file,
    keras_models_folder,
)
from cbrun.errors import UsageError

BACKBONE_LAYER = "backbone"


def preprocessing(keras, mode: str, x):
    """`x` (pixels 0-255, RGB) through the layers of one of Keras's `preprocess_input`
    modes; `include` and `internal` leave it to the backbone."""
    if mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(x)
    if mode == "torch":
        x = keras.layers.Rescaling(1 / 255.0, name="preprocess_scale")(x)
        variance = [s * s for s in IMAGENET_STD_RGB]
        normalize = keras.layers.Normalization(
            mean=list(IMAGENET_MEAN_RGB), variance=variance, name="preprocess"
        )
        return normalize(x)
    if mode == "caffe":
        # RGB -> BGR and minus ImageNet's BGR mean, as one fixed affine map on the channels.
        flip = keras.layers.Dense(3, trainable=False, dtype="float32", name="preprocess")
        y = flip(x)
        swap = np.zeros((3, 3), np.float32)
        swap[2, 0] = swap[1, 1] = swap[0, 2] = 1.0
        flip.set_weights([swap, -np.asarray(CAFFE_MEAN_BGR, np.float32)])
        return y
    return x


def build_backbone(spec, input_shape, num_classes: int | None, say=None):
    """The uncompiled model `spec.model` describes on inputs of `input_shape`."""
    keras = load_keras()

    name, model = spec.model.name, spec.model
    if not num_classes:
        raise UsageError(f"model: {name} classifies: the data needs class labels")
    family = BACKBONES[name]
    height, width, channels = input_shape
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    if channels == 1:
        x = keras.layers.Concatenate(name="grayscale_to_rgb")([x, x, x])
        if say is not None:
            say(f"model: grayscale images repeated to 3 channels for {name}")
    x = preprocessing(keras, family.preprocessing, x)
    kwargs = dict(model.args, include_top=False, input_shape=(height, width, 3))
    kwargs["weights"] = model.weights if not _is_run_folder(model.weights) else None
    if family.preprocessing == "include":
        kwargs["include_preprocessing"] = True
    backbone = _construct(keras, name, kwargs, size=height)
    # Renamed once made: ConvNeXt and EfficientNet name their ImageNet file after `name`.
    backbone.name = BACKBONE_LAYER
    if _is_run_folder(model.weights):
        _weights_from_run(backbone, Path(model.weights))
    backbone.trainable = not model.freeze
    # Inference mode for its BatchNormalization layers even once unfrozen, as the Keras
    # transfer-learning guide advises: their statistics are not relearned on small data.
    x = backbone(x, training=False)
    pool = (
        keras.layers.GlobalAveragePooling2D
        if model.head.pooling == "avg"
        else (keras.layers.GlobalMaxPooling2D)
    )
    x = pool(name="head_pool")(x)
    if model.head.dropout:
        x = keras.layers.Dropout(model.head.dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="head_output"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _is_run_folder(weights) -> bool:
    return isinstance(weights, str) and weights != "imagenet" and Path(weights).is_dir()


def _construct(keras, name: str, kwargs: dict, size: int):
    """The Keras constructor; its refusals, and a failed ImageNet download, as one line."""
    weights = kwargs.get("weights")
    from_file = weights not in (None, "imagenet")
    try:
        with warnings.catch_warnings():
            if from_file:  # Keras warns, and keeps fresh weights, where a file does not fit
                warnings.simplefilter("error", UserWarning)
            return getattr(keras.applications, name)(**kwargs)
    except (TypeError, ValueError, UserWarning) as error:
        said = str(error).splitlines()[0]
        if from_file:
            raise UsageError(f"model.weights: {weights} does not fit {name} ({said})") from None
        raise UsageError(f"model: {name}: {said}") from None
    except Exception as error:  # noqa: BLE001 - Keras's get_file raises a bare Exception
        found = re.search(r"https?://\S+?\.h5", str(error))
        if kwargs.get("weights") != "imagenet" or found is None:
            raise
        # The cache's name (NASNet's differs from its URL's), as the probe before TF names it.
        file = imagenet_file(name, kwargs, size) or found.group(0).rsplit("/", 1)[1]
        cache = keras_models_folder()
        raise UsageError(
            f"model.weights: imagenet: cannot download {found.group(0)} (no network?); put "
            f"that file at {cache / file} (Keras's cache) and run again"
        ) from None


def _weights_from_run(backbone, folder: Path) -> None:
    """The backbone weights of another run's model.keras (safe mode), layer for layer."""
    keras = load_keras()

    source = keras.models.load_model(folder / "model.keras", safe_mode=True, compile=False)
    try:
        theirs = source.get_layer(BACKBONE_LAYER)
        backbone.set_weights(theirs.get_weights())
    except ValueError as error:
        raise UsageError(
            f"model.weights: {folder}: its backbone does not fit this one "
            f"({str(error).splitlines()[0]})"
        ) from None
