"""The model builders and optimizers a config may name, read from the Keras table.

The builders themselves live in `cbrun/build/models.py`; their names, arguments and
docstrings are recorded in the table (`python -m cbrun.build.signatures --write`), so a
config is checked against them without importing the code that builds.
"""

from __future__ import annotations

from importlib import metadata

from cbrun.catalog.keras_table import table

# Injected by the runner, never written in a config.
INJECTED = ("input_shape", "num_classes")

# compile.optimizer.name (case-insensitive) → the Keras class.
OPTIMIZERS = {
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "nadam": "Nadam",
    "ftrl": "Ftrl",
    "lion": "Lion",
    "lamb": "Lamb",
    "adafactor": "Adafactor",
}

ENTRY_POINT_GROUP = "cbrun.models"

# What each built-in builder takes: "images" (height, width, channels), "vectors" (it is
# fed flat rows), or "any" (it flattens what it gets itself). A plugin builder gets the
# data as it is (images for MNIST) unless the config sets data.flatten.
MODEL_INPUTS = {"linear": "vectors", "mlp": "vectors", "cnn": "images", "sequential": "vectors"}


def model_names() -> list[str]:
    """The built-in builders' names, in the table's order."""
    return list(table()["models"])


def installed_builders() -> dict[str, str]:
    """Builders that installed packages expose under the `cbrun.models` entry-point group,
    `{name: "module:attr"}`: installing the package is the allowing."""
    return {point.name: point.value for point in metadata.entry_points(group=ENTRY_POINT_GROUP)}
