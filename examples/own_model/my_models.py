"""Your own model builder, as a cbrun plugin (examples/own_model/own_model.yaml).

cbrun passes `input_shape` and `num_classes` (from the data); the rest comes from
`model.args` in the config, checked against this signature before training.
Return the model uncompiled: cbrun compiles it from the config's `compile:`.
"""

import keras


def build_net(input_shape, num_classes, width: int = 32, depth: int = 2, dropout: float = 0.1):
    """A small residual MLP: `depth` blocks of `width` units, each added to its input."""
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(width, activation="relu")(x)
    for _ in range(depth):
        block = keras.layers.Dense(width, activation="relu")(x)
        block = keras.layers.Dropout(dropout)(block)
        x = keras.layers.Add()([x, block])
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="build_net")
