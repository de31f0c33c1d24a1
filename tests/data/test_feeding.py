"""The training pipeline: every image once an epoch, in an order set by (seed, epoch) alone."""

from __future__ import annotations

import numpy as np
import pytest

from cbrun.data import feeding
from cbrun.data.feeding import epoch_order, fit_data, in_batches, stored_tensor


def _epoch(data, epoch: int) -> list[np.ndarray]:
    """The label batches `fit` would read in `epoch` (labels here are the image indices)."""
    data.callback.on_epoch_begin(epoch)
    return [labels.numpy() for _, labels in data.train]


def _pipeline(count=10, batch_size=4, **options):
    x = np.arange(count, dtype=np.float32).reshape(count, 1) * 10
    y = np.arange(count, dtype=np.int32)
    settings = dict(batch_size=batch_size, seed=3, steps_per_epoch=None, shuffle=True)
    settings.update(options)
    return fit_data(x, y, validation_split=settings.pop("validation_split", 0.0), **settings)


def test_an_epoch_is_every_image_once_in_batches_with_a_short_last_one():
    data = _pipeline()
    batches = _epoch(data, 0)
    assert data.steps_per_epoch == 3 == len(batches)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches)) == list(range(10))


def test_images_and_labels_stay_paired():
    data = _pipeline()
    data.callback.on_epoch_begin(1)
    for images, labels in data.train:
        np.testing.assert_array_equal(images.numpy()[:, 0], labels.numpy() * 10)


def test_the_order_depends_on_seed_and_epoch_only():
    first, second = _pipeline(), _pipeline()
    epoch_2 = np.concatenate(_epoch(first, 2))
    # Another pipeline, jumping straight to epoch 2 (as a resumed run does).
    np.testing.assert_array_equal(np.concatenate(_epoch(second, 2)), epoch_2)
    np.testing.assert_array_equal(epoch_2, epoch_order(10, 3, 2))
    assert not np.array_equal(np.concatenate(_epoch(first, 1)), epoch_2)
    assert not np.array_equal(epoch_order(10, 4, 2), epoch_2)


def test_no_shuffle_reads_in_file_order():
    data = _pipeline(shuffle=False)
    np.testing.assert_array_equal(np.concatenate(_epoch(data, 5)), np.arange(10))


@pytest.mark.parametrize(
    ("steps", "sizes"),
    [(2, [4, 4]), (5, [4, 4, 2, 4, 4])],  # fewer steps than batches; more: round again
)
def test_steps_per_epoch_takes_from_the_start_of_the_epochs_order(steps, sizes):
    data = _pipeline(steps_per_epoch=steps)
    batches = _epoch(data, 0)
    assert [len(b) for b in batches] == sizes
    order = epoch_order(10, 3, 0)
    np.testing.assert_array_equal(np.concatenate(batches[:2]), order[:8])
    if steps > 3:
        np.testing.assert_array_equal(np.concatenate(batches[3:]), order[:8])


def test_validation_split_holds_out_the_last_images_before_shuffling():
    data = _pipeline(validation_split=0.2)
    (x_val, y_val), *more = [(x.numpy(), y.numpy()) for x, y in data.validation]
    assert not more
    np.testing.assert_array_equal(y_val, [8, 9])
    np.testing.assert_array_equal(x_val[:, 0], [80.0, 90.0])
    assert sorted(np.concatenate(_epoch(data, 0))) == list(range(8))


def test_pixels_stay_uint8_and_each_batch_is_cast_and_divided_as_numpy_would():
    pixels = np.random.default_rng(0).integers(0, 256, (50, 784), dtype=np.uint8)
    labels = np.arange(50, dtype=np.int32)
    settings = dict(batch_size=16, seed=1, steps_per_epoch=None, shuffle=True)
    data = fit_data(pixels, labels, validation_split=0.2, scale=255.0, **settings)
    data.callback.on_epoch_begin(0)
    for images, ids in data.train:
        assert images.dtype.name == "float32"
        # bit for bit what the plain script's `x.astype("float32") / 255.0` gives
        np.testing.assert_array_equal(images.numpy(), pixels[ids.numpy()].astype("float32") / 255.0)
    (x_val, y_val), *_ = list(data.validation)
    np.testing.assert_array_equal(x_val.numpy(), pixels[40:].astype("float32") / 255.0)


def test_test_batches_come_in_file_order_with_a_short_last_one():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1)
    batches = [(a.numpy(), b.numpy()) for a, b in in_batches(x, x[:, 0], batch_size=4, scale=None)]
    assert [len(b) for _, b in batches] == [4, 4, 2]
    assert np.concatenate([a for a, _ in batches]).dtype == np.float32
    np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), np.arange(10))


def test_a_large_array_is_copied_in_slices_exactly(monkeypatch, tmp_path):
    monkeypatch.setattr(feeding, "COPY_ROWS", 7)  # 5 slices, the last one short
    from cbrun.data.mapping import load_npz

    stored = np.random.default_rng(2).integers(0, 256, (31, 3, 2), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=stored)
    mapped = load_npz(tmp_path / "a.npz")["x"]
    tensor = stored_tensor(mapped)
    assert tensor.dtype.name == "uint8" and tuple(tensor.shape) == (31, 3, 2)
    np.testing.assert_array_equal(np.asarray(tensor), stored)
