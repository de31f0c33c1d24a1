"""Each model builder's layers and shapes, and the optimizer table."""

from __future__ import annotations

import keras
import pytest

from cbrun.build.models import MODELS, OPTIMIZERS, build_optimizer
from cbrun.errors import UsageError


def _shapes(model):
    return [tuple(layer.output.shape) for layer in model.layers]


def test_linear_is_one_unit_on_the_flat_image():
    flat = MODELS.build({"name": "linear", "input_shape": (784,), "num_classes": 10})
    assert [type(layer).__name__ for layer in flat.layers] == ["InputLayer", "Dense"]
    assert flat.output.shape == (None, 1) and flat.count_params() == 785
    images = MODELS.build({"name": "linear", "input_shape": (28, 28, 1), "num_classes": 10})
    assert _shapes(images)[1:] == [(None, 784), (None, 1)]


def test_mlp_hidden_layers_dropout_and_softmax():
    model = MODELS.build(
        {"name": "mlp", "input_shape": (784,), "num_classes": 7, "units": [32, 16], "dropout": 0.1}
    )
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "Dense",
        "Dropout",
        "Dense",
        "Dropout",
        "Dense",
    ]
    assert _shapes(model)[-1] == (None, 7)
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.layers[1].activation.__name__ == "relu"


def test_cnn_blocks_halve_the_image():
    model = MODELS.build(
        {
            "name": "cnn",
            "input_shape": (28, 28, 1),
            "num_classes": 10,
            "filters": [4, 8],
            "dense": 16,
        }
    )
    assert _shapes(model)[1:] == [
        (None, 28, 28, 4),
        (None, 14, 14, 4),
        (None, 14, 14, 8),
        (None, 7, 7, 8),
        (None, 392),
        (None, 16),
        (None, 16),
        (None, 10),
    ]


def test_cnn_refuses_flat_vectors():
    with pytest.raises(UsageError, match="set data.flatten: false"):
        MODELS.build({"name": "cnn", "input_shape": (784,), "num_classes": 10})


def test_sequential_builds_named_layers_in_order():
    layers = ["Flatten", {"name": "Dense", "args": {"units": 5, "activation": "tanh"}}]
    model = MODELS.build(
        {"name": "sequential", "input_shape": (28, 28, 1), "num_classes": 10, "layers": layers}
    )
    assert _shapes(model) == [(None, 784), (None, 5)]


@pytest.mark.parametrize(
    "layers,message",
    [
        ([], "model.args.layers: give at least one layer"),
        (["Dence"], "model.args.layers[0]: unknown Keras layer 'Dence' (did you mean 'Dense'?)"),
        ([{"name": "Lambda"}], "model.args.layers[0]: Lambda layers hold Python code"),
        ([{"name": "Dense", "args": {"unitz": 1}}], "model.args.layers[0]: Dense:"),
        ([{"layer": "Dense"}], "model.args.layers[0]: each layer is a name or"),
    ],
)
def test_sequential_refusals(layers, message):
    with pytest.raises(UsageError) as raised:
        MODELS.build(
            {"name": "sequential", "input_shape": (4,), "num_classes": 2, "layers": layers}
        )
    assert str(raised.value).startswith(message)


def test_every_optimizer_name_builds_its_keras_class():
    for name, cls in OPTIMIZERS.items():
        optimizer = build_optimizer(name, {"learning_rate": 0.01})
        assert type(optimizer) is getattr(keras.optimizers, cls)
        assert float(optimizer.learning_rate) == pytest.approx(0.01)
    with pytest.raises(UsageError, match="compile.optimizer: Adam:"):
        build_optimizer("adam", {"learning_rat": 0.1})
