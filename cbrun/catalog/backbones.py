"""Every `keras.applications` architecture a config may name as `model.name`: data, no
TensorFlow. Its constructor's arguments are in the Keras table (`make signatures`); here
are the facts the table cannot read from a signature: each family's smallest input and
its preprocessing, read from Keras's own `keras/src/applications/` (3.15).

Preprocessing, always inside the model (so `export` and `predict` carry it), on pixels
0-255 as `image_folder` gives them:
- `include`: the constructor's own `include_preprocessing=True` (MobileNetV3, EfficientNetV2,
  ConvNeXt);
- `internal`: the model normalises by itself (EfficientNet B0-B7);
- `tf`, `torch`, `caffe`: the modes of `keras.applications.imagenet_utils.preprocess_input`,
  made of standard layers (a Lambda would be refused by safe mode): `tf` scales to -1..1,
  `torch` scales to 0..1 then normalises by ImageNet's mean and deviation, `caffe` turns RGB
  into BGR and subtracts ImageNet's mean.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Backbone:
    family: str  # the keras.applications module
    min_size: int  # the smallest height and width Keras accepts
    preprocessing: str  # include | internal | tf | torch | caffe


def _family(family: str, min_size: int, preprocessing: str, *names: str) -> dict:
    return {name: Backbone(family, min_size, preprocessing) for name in names}


BACKBONES: dict[str, Backbone] = {
    **_family("convnext", 32, "include", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase",
              "ConvNeXtLarge", "ConvNeXtXLarge"),
    **_family("densenet", 32, "torch", "DenseNet121", "DenseNet169", "DenseNet201"),
    **_family("efficientnet", 32, "internal", *(f"EfficientNetB{i}" for i in range(8))),
    **_family("efficientnet_v2", 32, "include", "EfficientNetV2B0", "EfficientNetV2B1",
              "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S", "EfficientNetV2M",
              "EfficientNetV2L"),
    **_family("inception_resnet_v2", 75, "tf", "InceptionResNetV2"),
    **_family("inception_v3", 75, "tf", "InceptionV3"),
    **_family("mobilenet", 32, "tf", "MobileNet"),
    **_family("mobilenet_v2", 32, "tf", "MobileNetV2"),
    **_family("mobilenet_v3", 32, "include", "MobileNetV3Small", "MobileNetV3Large"),
    **_family("nasnet", 32, "tf", "NASNetMobile", "NASNetLarge"),
    **_family("resnet", 32, "caffe", "ResNet50", "ResNet101", "ResNet152"),
    **_family("resnet_v2", 32, "tf", "ResNet50V2", "ResNet101V2", "ResNet152V2"),
    **_family("vgg16", 32, "caffe", "VGG16"),
    **_family("vgg19", 32, "caffe", "VGG19"),
    **_family("xception", 71, "tf", "Xception"),
}  # fmt: skip

# The constructor arguments cbrun sets itself, and what to write instead.
CBRUN_SETS = {
    "include_top": "cbrun adds the head: set model.head (pooling, dropout)",
    "input_shape": "the data sets it: data.image_size for an image folder",
    "input_tensor": "cbrun makes the model's input from the data",
    "classes": "the data's classes set the head's outputs",
    "weights": "set model.weights (imagenet, null, a .weights.h5 file or a run folder)",
    "pooling": "set model.head.pooling (avg or max)",
    "classifier_activation": "the head ends in a softmax over the classes",
    "include_preprocessing": "cbrun preprocesses inside the model for every family",
    "name": "cbrun names the backbone layer `backbone`",
}

# ImageNet's statistics, as keras.applications.imagenet_utils uses them.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def is_backbone(name: str) -> bool:
    return name in BACKBONES


# Where Keras downloads ImageNet weights from, and keeps them (`keras_models_folder`).
WEIGHTS_HOST = ("storage.googleapis.com", 443)


def keras_models_folder() -> Path:
    """Where Keras keeps downloaded weights: `$KERAS_HOME/models`, else `~/.keras/models`."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


_NOTOP = "_weights_tf_dim_ordering_tf_kernels_notop.h5"
_SIZES = {"MobileNet": (128, 160, 192, 224), "MobileNetV2": (96, 128, 160, 192, 224)}


def imagenet_file(name: str, args: dict, size: int | None) -> str | None:
    """The file Keras 3.15 downloads for `name`'s ImageNet weights without the top (as its
    `keras/src/applications/` names it), for the constructor `args` and square image
    `size`; None where it cannot be told before Keras runs."""
    family = BACKBONES[name].family
    lower = name.lower()
    if family in ("convnext", "efficientnet"):
        stem = {"convnext": f"convnext_{lower.removeprefix('convnext')}"}.get(family, lower)
        return f"{stem}_notop.h5"
    if family == "efficientnet_v2":
        return f"efficientnetv2-{lower.removeprefix('efficientnetv2')}_notop.h5"
    if family in ("densenet", "resnet", "resnet_v2", "vgg16", "vgg19", "xception",
                  "inception_v3", "inception_resnet_v2"):  # fmt: skip
        return f"{family if family.startswith('inception') else lower}{_NOTOP}"
    if family == "nasnet":
        return f"nasnet_{lower.removeprefix('nasnet')}_no_top.h5"
    alpha = args.get("alpha", 1.0)
    if family == "mobilenet_v3":
        kind = "small" if name.endswith("Small") else "large"
        minimal = "_minimalistic" if args.get("minimalistic") else ""
        return f"weights_mobilenet_v3_{kind}{minimal}_224_{alpha}_float_no_top_v2.h5"
    rows = size if size in _SIZES.get(name, ()) else 224
    if family == "mobilenet":
        text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}.get(alpha)
        return f"mobilenet_{text}_{rows}_tf_no_top.h5" if text else None
    if family == "mobilenet_v2":
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"
    return None
