"""A test-only model builder with a small nested model named `backbone` (convolutions and
a BatchNormalization), frozen: what UnfreezeBackbone works on, at a test's cost."""

import keras


def build(input_shape, num_classes, frozen: bool = True):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    backbone = keras.Model(inputs, x, name="backbone")
    backbone.trainable = not frozen
    outer = keras.Input(shape=input_shape)
    y = backbone(outer, training=False)
    y = keras.layers.GlobalAveragePooling2D()(y)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(y)
    return keras.Model(outer, outputs, name="nested")
