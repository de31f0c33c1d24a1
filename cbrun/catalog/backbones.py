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

from dataclasses import dataclass


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
