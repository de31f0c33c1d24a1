"""`keras.applications` backbones by name: checked before TensorFlow, preprocessing inside
the model equal to Keras's own, trained, started from another run's backbone, frozen."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from cbrun.catalog.backbones import BACKBONES, CBRUN_SETS
from cbrun.config.backbone_checks import BACKBONE_ONLY
from cbrun.config.loading import load_config
from cbrun.errors import ConfigError

BASE = {
    "name": "transfer",
    "data": {"dataset": "image_folder", "image_size": [32, 32]},
    "model": {"name": "MobileNetV3Small", "args": {"alpha": 0.75, "minimalistic": True}},
    "compile": {"optimizer": {"name": "adam", "args": {"learning_rate": 0.001}},
                "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
    "fit": {"epochs": 1, "batch_size": 8, "steps_per_epoch": 2},
    "evaluate": {"batch_size": 8, "steps": 1},
}  # fmt: skip


def _images(folder: Path, size=(36, 36), mode="RGB") -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    channels = 3 if mode == "RGB" else 1
    for label in ("cats", "dogs", "owls"):
        (folder / label).mkdir(parents=True)
        for index in range(8):
            pixels = rng.integers(0, 255, (*size, channels), dtype=np.uint8).squeeze()
            Image.fromarray(pixels, mode).save(folder / label / f"{index}.png")
    return folder


def _config(tmp_path: Path, **changes) -> Path:
    config = json.loads(json.dumps(BASE))
    config["data"]["path"] = str(tmp_path / "images")
    config["data"]["cache"] = str(tmp_path / "cache")
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("backbones")
    _images(folder / "images")
    return folder


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_every_keras_application_is_a_model_name_with_its_arguments_in_the_table():
    import keras

    from cbrun.config.arguments import records

    named = {n for n in dir(keras.applications) if n[:1].isupper()}
    assert set(BACKBONES) == named
    table = records("backbone")
    assert set(table) == named
    for name, record in table.items():
        assert not {a["name"] for a in record["arguments"]} & set(CBRUN_SETS), name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model.args": {"include_top": True}},
         "model.args.include_top: cbrun sets it: cbrun adds the head: set model.head"),
        ({"model.args": {"input_shape": [32, 32, 3]}},
         "model.args.input_shape: cbrun sets it: the data sets it: data.image_size"),
        ({"model.args": {"alfa": 1.0}},
         "model.args.alfa: unknown argument of MobileNetV3Small (did you mean 'alpha'?)"),
        ({"data.image_size": [16, 16]},
         "data.image_size: MobileNetV3Small needs images of at least 32x32; the data's are 16x16"),
        ({"model.name": "Xception", "model.args": {}},
         "data.image_size: Xception needs images of at least 71x71; the data's are 32x32"),
        ({"model.weights": "missing.weights.h5"},
         "model.weights: missing.weights.h5: no such file or folder"),
        ({"model.head": {"dropout": 1.5}}, "model.head.dropout: "),
    ],
)  # fmt: skip
def test_a_backbone_config_is_checked_before_tensorflow(changes, message, images):
    problems = _problems(_config(images, **changes))
    assert any(p.startswith(message) for p in problems), problems


def test_backbone_keys_elsewhere_and_data_it_cannot_take_are_refused(images):
    elsewhere = {"model.freeze": True, "model.weights": "imagenet", "model.head": {"dropout": 0.5}}
    mlp = _config(images, **{"model.name": "mlp", "model.args": {}, **elsewhere})
    assert sorted(_problems(mlp)) == sorted(
        f"model.{key}: only for keras.applications backbones, not mlp" for key in BACKBONE_ONLY
    )
    mnist = _config(images, data={"dataset": "mnist", "source": "bundled"})
    assert any(
        "needs images of at least 32x32; the data's are 28x28" in p for p in _problems(mnist)
    )
    not_hdf5 = images / "fake.weights.h5"
    not_hdf5.write_text("text")
    problems = _problems(_config(images, **{"model.weights": str(not_hdf5)}))
    assert f"model.weights: {not_hdf5}: not an HDF5 weights file (truncated or damaged)" in problems


@pytest.mark.parametrize(("mode", "module"), [("tf", "mobilenet_v2"), ("torch", "densenet"),
                                              ("caffe", "resnet")])  # fmt: skip
def test_the_preprocessing_layers_equal_kerass_preprocess_input(mode, module):
    import keras

    from cbrun.build.backbones import preprocessing

    pixels = np.random.default_rng(1).uniform(0, 255, (4, 8, 8, 3)).astype(np.float32)
    inputs = keras.Input(shape=(8, 8, 3))
    model = keras.Model(inputs, preprocessing(keras, mode, inputs))
    theirs = getattr(keras.applications, module).preprocess_input(pixels.copy())
    np.testing.assert_allclose(model.predict(pixels, verbose=0), theirs, rtol=1e-5, atol=1e-4)


def test_a_run_folders_backbone_starts_another_model_frozen(images, tmp_path):
    """A run folder as `model.weights` (make smoke trains the example end to end; here the
    folder is what a run leaves: its config.yaml and a model.keras that loads in safe mode)."""
    import keras

    from cbrun.build.models import build_model

    first = tmp_path / "first"
    first.mkdir()
    spec = load_config(_config(images))
    built, _ = build_model(spec, (32, 32, 3), 3)
    for variable in built.get_layer("backbone").trainable_variables[:3]:  # not the fresh init
        variable.assign(variable + 0.5)
    built.save(first / "model.keras")
    (first / "config.yaml").write_text(spec.to_yaml())
    trained = keras.models.load_model(first / "model.keras", safe_mode=True)
    assert {"head_pool", "head_dropout", "head_output"} <= {layer.name for layer in trained.layers}
    tuned = load_config(_config(images, **{"model.weights": str(first), "model.freeze": True}))
    model, _ = build_model(tuned, (32, 32, 3), 3)
    ours, theirs = model.get_layer("backbone"), trained.get_layer("backbone")
    assert not ours.trainable and model.get_layer("head_output").trainable
    for a, b in zip(theirs.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_weights_file_is_loaded_and_one_of_another_architecture_is_one_line(images, tmp_path):
    import keras

    from cbrun.build.models import build_model
    from cbrun.errors import UsageError

    source = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.75, minimalistic=True
    )
    weights = tmp_path / "small.weights.h5"
    source.save_weights(weights)
    spec = load_config(_config(images, **{"model.weights": str(weights)}))
    model, _ = build_model(spec, (32, 32, 3), 3)
    for a, b in zip(source.get_weights(), model.get_layer("backbone").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = load_config(_config(images, **{"model.weights": str(weights), "model.args": {}}))
    with pytest.raises(
        UsageError, match=f"^model.weights: {weights} does not fit MobileNetV3Small"
    ):
        build_model(other, (32, 32, 3), 3)


def test_grayscale_images_are_repeated_to_rgb_and_said(images):
    from cbrun.build.models import build_model

    said = []
    spec = load_config(_config(images, **{"data.color_mode": "grayscale"}))
    model, _ = build_model(spec, (32, 32, 1), 3, say=said.append)
    assert said == ["model: grayscale images repeated to 3 channels for MobileNetV3Small"]
    assert model.input_shape == (None, 32, 32, 1)
    assert model.get_layer("grayscale_to_rgb").output.shape[-1] == 3
