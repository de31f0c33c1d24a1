"""Arrays of an .npz memory-mapped where stored, read where compressed, pages given back."""

from __future__ import annotations

import mmap
import zipfile

import numpy as np
import pytest

from cbrun.data.mapping import all_finite, load_npz, release_pages


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (40, 5, 3), dtype=np.uint8),
        "y_train": np.arange(40, dtype=np.int64),
        "weights": np.asfortranarray(rng.normal(size=(6, 4))),
        "empty": np.zeros((0, 3), np.float32),
    }


def _mapping(array):
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else base.base
    return base


@pytest.mark.parametrize("compressed", [False, True])
def test_every_array_comes_back_equal(tmp_path, compressed):
    path = tmp_path / "a.npz"
    (np.savez_compressed if compressed else np.savez)(path, **_arrays())
    loaded = load_npz(path)
    assert set(loaded) == set(_arrays())
    for name, array in _arrays().items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    # Stored members are views of the file's mapping (read-only); compressed ones are read.
    mapped = _mapping(loaded["x_train"])
    assert (mapped is None) == compressed
    assert loaded["x_train"].flags.writeable == compressed


def test_given_back_pages_read_the_same_again(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, **_arrays())
    x = load_npz(path)["x_train"].reshape(40, -1)[5:]
    before = x.copy()
    release_pages(x)
    np.testing.assert_array_equal(x, before)
    release_pages(before)  # an array in memory: nothing to give back, nothing lost
    np.testing.assert_array_equal(x, before)


def test_a_pickled_member_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x_train=np.array([object()] * 3, dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        load_npz(path)


def test_not_a_zip_raises_what_np_load_would(tmp_path):
    path = tmp_path / "a.npz"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(zipfile.BadZipFile):
        load_npz(path)


def test_all_finite_reads_in_slices():
    values = np.ones(1000, np.float32)
    assert all_finite(values, rows=64)
    values[999] = np.nan
    assert not all_finite(values, rows=64)
    assert all_finite(np.arange(10))  # integers always are
