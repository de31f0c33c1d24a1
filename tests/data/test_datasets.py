"""Data: the bundled sample, .npz files and IDX folders the tests write, and bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from cbrun.data.datasets import load_dataset, read_npz
from cbrun.data.idx import IDX_NAMES
from cbrun.errors import DataError
from tests.conftest import FULL_MNIST, needs_full_mnist


def _arrays(n_train=20, n_test=10):
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def _write_idx(path, array, gz):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


def test_bundled_sample_is_a_stratified_real_cut():
    data = load_dataset("mnist", "bundled")
    assert data.info.source == "bundled"
    assert data.x_train.shape == (10000, 784) and data.x_test.shape == (2000, 784)
    # Kept as stored; the model sees float32 in [0, 1], cast batch by batch.
    assert data.x_train.dtype == np.uint8 and data.scale == 255.0
    inputs = data.inputs(data.x_train)
    assert inputs.dtype == np.float32 and 0.0 <= inputs.min() and inputs.max() == 1.0
    assert np.bincount(data.y_train).tolist() == [1000] * 10
    assert np.bincount(data.y_test).tolist() == [200] * 10


def test_flatten_false_and_limits():
    data = load_dataset("mnist", "bundled", flatten=False, limit_train=50, limit_test=7)
    assert data.x_train.shape == (50, 28, 28, 1) and data.x_test.shape == (7, 28, 28, 1)
    assert data.info.train_samples == 50


def test_npz_written_by_the_test(tmp_path):
    arrays = _arrays()
    np.savez(tmp_path / "m.npz", **arrays)
    data = load_dataset("mnist", "path", tmp_path / "m.npz")
    assert data.info.source == "path" and data.info.path == str(tmp_path / "m.npz")
    expected = arrays["x_test"][3].reshape(-1) / 255.0
    np.testing.assert_allclose(data.inputs(data.x_test[3]), expected, rtol=1e-6)
    assert data.y_train.tolist() == arrays["y_train"].tolist()


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_written_by_the_test(tmp_path, gz):
    arrays = _arrays()
    for key, (name, _) in IDX_NAMES.items():
        _write_idx(tmp_path / (name + (".gz" if gz else "")), arrays[key], gz)
    data = load_dataset("mnist", "path", tmp_path)
    assert data.x_train.shape == (20, 784)
    assert data.y_test.tolist() == arrays["y_test"].tolist()


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda a: a.pop("y_test"),
            "missing arrays y_test (expected x_train, y_train, x_test, y_test)",
        ),
        (
            lambda a: a.update(x_train=np.zeros((20, 28, 27), np.uint8)),
            "x_train has shape (20, 28, 27), expected (N, 28, 28)",
        ),
        (
            lambda a: a.update(x_test=np.zeros((10, 28, 28), np.float64)),
            "x_test has dtype float64, expected uint8 pixels",
        ),
        (lambda a: a.update(y_train=np.full(20, 11, np.uint8)), "y_train holds labels outside 0-9"),
        (lambda a: a.update(y_test=np.zeros(9, np.uint8)), "y_test has shape (9,), expected (10,)"),
    ],
)
def test_bad_npz_gives_one_line_naming_the_file(tmp_path, change, message):
    arrays = _arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as caught:
        read_npz(path)
    assert str(caught.value) == f"{path}: {message}"


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    arrays = _arrays()
    arrays["x_train"] = np.array([object()] * 3, dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="not a readable .npz file"):
        read_npz(path)


def test_truncated_idx(tmp_path):
    arrays = _arrays()
    for name, key in [
        ("train-images-idx3-ubyte", "x_train"),
        ("train-labels-idx1-ubyte", "y_train"),
        ("t10k-images-idx3-ubyte", "x_test"),
        ("t10k-labels-idx1-ubyte", "y_test"),
    ]:
        _write_idx(tmp_path / name, arrays[key], gz=False)
    raw = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:-5])
    with pytest.raises(DataError, match="size does not match its header"):
        load_dataset("mnist", "path", tmp_path)


def test_auto_falls_back_to_bundled_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    import cbrun.data.datasets as data_module

    def offline(dataset):
        raise DataError("Keras could not download mnist: offline")

    monkeypatch.setattr(data_module, "_from_keras_download", offline)
    said = []
    data = load_dataset("mnist", "auto", announce=said.append)
    assert data.info.source == "bundled"
    assert said == [
        "data: mnist from the sample bundled with cbrun (a 12,000-image cut, not "
        "the full set): 10,000 train / 2,000 test images"
    ]


def test_auto_prefers_the_keras_cache(tmp_path, monkeypatch):
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", **_arrays())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    data = load_dataset("mnist", "auto")
    assert data.info.source == "keras" and data.info.train_samples == 20


def _keras_fashion_cache(keras_home, arrays):
    """Fashion-MNIST as Keras caches it: a folder of gzipped IDX files."""
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for key, (name, _) in IDX_NAMES.items():
        _write_idx(folder / f"{name}.gz", arrays[key], gz=True)
    return folder


@pytest.mark.parametrize("source", ["keras", "auto"])
def test_fashion_mnist_from_the_keras_cache(tmp_path, monkeypatch, source):
    arrays = _arrays()
    folder = _keras_fashion_cache(tmp_path / "keras-home", arrays)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    data = load_dataset("fashion_mnist", source)
    assert data.info.source == "keras" and data.info.path == str(folder)
    assert data.y_train.tolist() == arrays["y_train"].tolist()


def test_an_empty_cache_folder_left_by_a_failed_download_is_not_a_cache(tmp_path, monkeypatch):
    (tmp_path / "keras-home" / "datasets" / "fashion-mnist").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    import cbrun.data.datasets as data_module

    def offline(dataset):
        raise DataError(f"Keras could not download {dataset}: offline")

    monkeypatch.setattr(data_module, "_from_keras_download", offline)
    with pytest.raises(DataError) as raised:
        load_dataset("fashion_mnist", "auto")
    assert str(raised.value) == (
        "Keras could not download fashion_mnist: offline; and cbrun bundles no sample of "
        "fashion_mnist"
    )


@needs_full_mnist
def test_full_mnist_file():
    data = load_dataset("mnist", "path", FULL_MNIST)
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert np.bincount(data.y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
