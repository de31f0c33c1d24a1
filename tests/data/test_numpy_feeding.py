"""The JAX feed (`numpy_feeding.py`, a PyDataset) gives the very batches the TensorFlow
feed (`feeding.py`, tf.data) gives: same order per epoch, same floats, same wrap-around
past the last batch, validation in order. Both run here, on TensorFlow: a PyDataset is
backend-agnostic, so the comparison needs no second process."""

from __future__ import annotations

import numpy as np
import pytest

from cbrun.data import feeding, numpy_feeding


@pytest.mark.parametrize("steps_per_epoch", [None, 7], ids=["one-pass", "wraps-around"])
def test_the_jax_feed_gives_the_tensorflow_feeds_batches(steps_per_epoch):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (50, 6), dtype=np.uint8)
    y = np.arange(50) % 4
    common = dict(batch_size=8, seed=3, steps_per_epoch=steps_per_epoch, shuffle=True)
    tf_fed = feeding.fit_data(x, y, validation_split=0.2, scale=255.0, **common)
    count, steps = 40, tf_fed.steps_per_epoch
    order_of = lambda at: feeding.epoch_order(count, 3, at, True)  # noqa: E731
    train, held, callback = numpy_feeding.fit_data(
        x[:40], y[:40], 8, steps, order_of, (x[40:], y[40:]), 255.0, None
    )
    assert len(train) == steps == (steps_per_epoch or 5)
    for epoch in (0, 3):
        tf_fed.callback.on_epoch_begin(epoch)
        callback.on_epoch_begin(epoch)
        ours = [train[step] for step in range(steps)]
        for (a, b), (c, d) in zip(ours, tf_fed.train.as_numpy_iterator(), strict=True):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
    theirs = list(tf_fed.validation.as_numpy_iterator())
    assert len(held) == len(theirs) == 2
    for step, (c, d) in enumerate(theirs):
        np.testing.assert_array_equal(held[step][0], c)
        np.testing.assert_array_equal(held[step][1], d)
