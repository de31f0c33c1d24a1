"""The same batches as `feeding.py`, fed to Keras on JAX as a `keras.utils.PyDataset`.

`tf.data` works on the JAX backend, but importing it brings TensorFlow (5 s, 600 MB)
into a process that otherwise never needs it. Keras reads a PyDataset with one worker
in the training loop's own thread, batch by batch, after `on_epoch_begin`: each batch is
gathered from the stored arrays by this epoch's order (`feeding.epoch_order`, the same
permutation of `(seed, epoch)` as on TensorFlow), cast to float32 and divided by the
dataset's scale then, so no float32 copy of the whole set exists here either. Class
weights go to Keras, which turns them into sample weights per batch as it does for
`tf.data`; augmentation runs Keras's layers on the batch (`augment.py`).
"""

from __future__ import annotations

import math

import numpy as np

from cbrun.backend import load_keras


def _batches_class(keras):
    class Batches(keras.utils.PyDataset):
        """Batch `step` of `x, y` in `self.order` (all of it, in turn, when None):
        `steps` of them, going round the order again past its end, as Keras would."""

        def __init__(self, x, y, *, batch_size, steps, scale, augment=None):
            super().__init__(workers=1, use_multiprocessing=False)
            self.x, self.y, self.batch_size, self.steps = x, y, batch_size, steps
            self.scale, self.augment = scale, augment
            self.batches = math.ceil(len(x) / batch_size)
            self.order, self.epoch = None, 0

        def __len__(self):
            return self.steps

        def __getitem__(self, step):
            start = (step % self.batches) * self.batch_size
            end = min(start + self.batch_size, len(self.x))
            rows = slice(start, end) if self.order is None else self.order[start:end]
            features = np.asarray(self.x[rows], dtype=np.float32)
            if self.scale:  # divided, not multiplied by 1/255: the floats `x / 255.0` gives
                features /= np.float32(self.scale)
            if self.augment is not None:
                features = self.augment(features, self.epoch, step)
            return features, self.y[rows]

    return Batches


def fit_data(x, y, batch_size, steps, order_of, validation, scale, augment):
    """`(train, validation, callback)`: the training batches in each epoch's order (the
    callback writes it before Keras reads the epoch's first batch), and the validation
    `(x, y)` in order, or None."""
    keras = load_keras()
    batches = _batches_class(keras)
    train = batches(x, y, batch_size=batch_size, steps=steps, scale=scale, augment=augment)

    class EpochOrder(keras.callbacks.Callback):
        def on_epoch_begin(self, index, logs=None):
            train.order, train.epoch = order_of(index), index

    held = validation and in_batches(*validation, batch_size=batch_size, scale=scale)
    return train, held, EpochOrder()


def in_batches(x, y, *, batch_size: int, scale: float | None):
    """`(x, y)` in order, as float32 batches divided by `scale`."""
    steps = math.ceil(len(x) / batch_size)
    return _batches_class(load_keras())(x, y, batch_size=batch_size, steps=steps, scale=scale)
