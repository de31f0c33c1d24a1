"""The same batches as `feeding.py`, fed to Keras on JAX as a `keras.utils.PyDataset`.

`tf.data` works on the JAX backend, but importing it brings TensorFlow (5 s, 600 MB)
into a process that otherwise never needs it. Keras reads a PyDataset with one worker
in the training loop's own thread, batch by batch, after `on_epoch_begin`: each batch is
gathered from the stored arrays by this epoch's order (`feeding.epoch_order`, the same
permutation of `(seed, epoch)` as on TensorFlow), cast to float32 and divided by the
dataset's scale then, so no float32 copy of the whole set exists here either. Class
weights go to Keras, which turns them into sample weights per batch as it does for
`tf.data`; augmentation runs Keras's layers on the batch (`augment.py`).

Under Keras's `DataParallel` (`distribute: {strategy: mirrored}` on JAX) every batch is
split between the devices, and JAX refuses a batch the devices do not divide: the last
batch of a pass is cut to a multiple of the device count (`dropped` rows, said on the
console by the caller), as `drop_remainder` would, only smaller.
"""

from __future__ import annotations

import math

import numpy as np

from cbrun.backend import load_keras


def _batches_class(keras):
    class Batches(keras.utils.PyDataset):
        """Batch `step` of `x, y` in `self.order` (all of it, in turn, when None):
        `steps` of them, going round the order again past its end, as Keras would."""

        def __init__(self, x, y, *, batch_size, steps=None, scale, augment=None):
            super().__init__(workers=1, use_multiprocessing=False)
            self.x, self.y, self.batch_size = x, y, batch_size
            self.scale, self.augment = scale, augment
            self.batches = math.ceil(len(x) / batch_size)
            devices = _devices(keras)
            self.dropped = (len(x) - (self.batches - 1) * batch_size) % devices
            self.rows = len(x) - self.dropped  # fed in a pass
            self.batches = math.ceil(self.rows / batch_size)
            self.steps = steps or self.batches
            self.order, self.epoch = None, 0

        def __len__(self):
            return self.steps

        def __getitem__(self, step):
            start = (step % self.batches) * self.batch_size
            end = min(start + self.batch_size, self.rows)
            rows = slice(start, end) if self.order is None else self.order[start:end]
            features = np.asarray(self.x[rows], dtype=np.float32)
            if self.scale:  # divided, not multiplied by 1/255: the floats `x / 255.0` gives
                features /= np.float32(self.scale)
            if self.augment is not None:
                features = self.augment(features, self.epoch, step)
            return features, self.y[rows]

    return Batches


def _devices(keras) -> int:
    """The devices Keras's distribution splits each batch between (1 without one)."""
    distribution = keras.distribution.distribution()
    mesh = getattr(distribution, "device_mesh", None)
    return math.prod(mesh.shape) if mesh is not None else 1


def fit_data(x, y, batch_size, steps, order_of, validation, scale, augment):
    """`(train, validation, callback)`: the training batches in each epoch's order (the
    callback writes it before Keras reads the epoch's first batch), and the validation
    `(x, y)` in order, or None. `steps` None: one pass over the (kept) rows."""
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
    return _batches_class(load_keras())(x, y, batch_size=batch_size, scale=scale)
