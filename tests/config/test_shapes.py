"""Does the model take the data? Decided from the config and the .npz headers, before
TensorFlow: `data.flatten: auto`, cnn on flat data, arrays that claim too much memory."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from cbrun.catalog.datasets import array_headers
from cbrun.config.loading import load_config
from cbrun.config.shapes import resolve_flatten
from cbrun.errors import ConfigError

HEAD = "compile: {optimizer: adam, loss: sparse_categorical_crossentropy}\nfit: {epochs: 1}\n"


def head(model: str) -> str:
    """The compile and fit sections; the guide's one-unit linear model regresses."""
    return (
        HEAD.replace("sparse_categorical_crossentropy", "mean_squared_error")
        if model == "linear"
        else HEAD
    )


def _arrays(path, shape):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 32), ("test", 8)):
        arrays[f"x_{split}"] = rng.normal(size=(count, *shape)).astype(np.float32)
        arrays[f"y_{split}"] = rng.integers(0, 3, count)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("model", "flatten"),
    [("mlp", True), ("linear", True), ("sequential", True), ("cnn", False), ("m:build", False)],
)
def test_auto_feeds_mnist_as_each_model_takes_it(model, flatten, write_config):
    plugins = "plugins: [m]\n" if ":" in model else ""
    layers = ", args: {layers: [Dense]}" if model == "sequential" else ""
    spec = load_config(write_config(f"{plugins}model: {{name: '{model}'{layers}}}\n" + head(model)))
    assert spec.data.flatten is flatten


@pytest.mark.parametrize("shape", [(8, 8, 1), (64,), (4, 4)])
@pytest.mark.parametrize("model", ["mlp", "linear", "cnn"])
def test_arrays_are_fed_as_given(shape, model, write_config, tmp_path):
    data = _arrays(tmp_path / "a.npz", shape)
    text = f"data: {{dataset: arrays, source: path, path: {data}}}\nmodel: {{name: {model}}}\n"
    if model == "cnn" and len(shape) != 3:
        with pytest.raises(ConfigError) as caught:
            load_config(write_config(text + head(model)))
        (line,) = str(caught.value).splitlines()
        assert ":2:15: model.name: model cnn takes images (height, width, channels)" in line
        assert f"the data's samples have shape {shape}" in line
    else:
        assert load_config(write_config(text + head(model))).data.flatten is False


def test_cnn_with_flatten_set_is_blamed_on_flatten(write_config):
    text = "data: {flatten: true}\nmodel: {name: cnn}\n" + HEAD
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    assert "1:17: data.flatten: model cnn takes images; flat rows of 784 would not fit" in str(
        caught.value
    )


def _huge_npz(path):
    """An .npz whose x_train header claims 2**40 float64 rows of 8: 8 TiB, with no data."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**40, 8)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", b"\x93NUMPY" + buffer.getvalue()[6:])
        for name in ("y_train", "x_test", "y_test"):
            small = io.BytesIO()
            np.save(small, np.zeros(2))
            archive.writestr(f"{name}.npy", small.getvalue())
    return path


def test_arrays_that_claim_more_than_the_memory_are_refused_before_loading(write_config, tmp_path):
    data = _huge_npz(tmp_path / "huge.npz")
    assert array_headers(data)["x_train"][0] == (2**40, 8)
    text = f"data: {{dataset: arrays, source: path, path: {data}}}\nmodel: {{name: mlp}}\n" + HEAD
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    (line,) = str(caught.value).splitlines()
    assert "data.path: its arrays claim 65,536.0 GiB (x_train (1099511627776, 8), float64)" in line
    assert "more than this machine's" in line


def test_headers_of_a_file_that_is_no_npz_are_empty(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    assert array_headers(tmp_path / "x.npz") == {}


def test_resolve_flatten_as_a_function():
    from cbrun.config.spec import DataSpec

    assert resolve_flatten(DataSpec(), "mlp") is True
    assert resolve_flatten(DataSpec(), "cnn") is False
    assert resolve_flatten(DataSpec(), "pkg.mod:build") is False  # a plugin gets the images
    assert resolve_flatten(DataSpec(flatten=True), "cnn") is True  # as set (then refused)
    assert resolve_flatten(DataSpec(dataset="arrays", source="path", path="x.npz"), "mlp") is False


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("{name: mlp, args: {units: [64]}}", 784 * 64 + 64 + 64 * 10 + 10),
        ("{name: linear}", 785),
        ("{name: cnn, args: {filters: [4], dense: 8}}", 9 * 4 + 4 + (14 * 14 * 4 + 1) * 8 + 9 * 10),
    ],
)
def test_parameter_estimates_match_what_keras_builds(model, params, write_config):
    from cbrun.build import models
    from cbrun.config.shapes import parameter_estimate

    name = "linear" if "linear" in model else "other"
    spec = load_config(write_config(f"model: {model}\n" + head(name)))
    shape = (28, 28, 1) if "cnn" in model else (784,)
    assert parameter_estimate(spec, shape, 10) == params
    built = getattr(models, spec.model.name)(shape, 10, **spec.model.args)  # the real thing
    assert built.count_params() == params


def test_a_model_too_big_for_the_memory_is_refused_with_its_estimate(write_config):
    path = write_config("model: {name: mlp, args: {units: [1000000000]}}\n" + HEAD)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (line,) = str(caught.value).splitlines()
    assert ":1:26: model.args: model mlp would have about 795,000,000,010 parameters" in line
    assert "GiB to train (weights, gradients, optimizer slots); this machine has" in line
