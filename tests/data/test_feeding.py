"""The training pipeline: every image once an epoch, in an order set by (seed, epoch) alone."""

from __future__ import annotations

import numpy as np
import pytest

from cbrun.data.feeding import epoch_order, fit_data


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
    x_val, y_val = data.validation
    np.testing.assert_array_equal(y_val, [8, 9])
    assert sorted(np.concatenate(_epoch(data, 0))) == list(range(8))
