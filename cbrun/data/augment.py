"""`data.augment`: Keras image augmentation layers on the training batches, seeded by
(seed, epoch, step) so that a resumed run sees the very batches an uninterrupted one saw.

A Keras random layer draws from a `SeedGenerator` whose state moves on with every
call, so its draws depend on how many batches came before in the same process. Here
each layer's `get_random_transformation` is given a seed made for the batch instead:
`stateless_fold_in` of the run's seed, the layer's place in the list, the epoch and
the step. Validation and test batches are never augmented.

Images reach the layers as the model sees them: float32, MNIST's in [0, 1]. A layer
with a `value_range` (RandomContrast, RandomBrightness, ...) gets `[0, 1]` for such
data unless the config gives one; its Keras default, `[0, 255]`, would be wrong there.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from cbrun.backend import load_keras, load_tensorflow, on_jax
from cbrun.errors import UsageError


def augmenter(items, seed: int, image_shape: tuple, scaled: bool):
    """A function `(batch, epoch, step) -> batch` applying `items` (names or `{name,
    args}`, checked by the config) to a batch of `image_shape` images, or of flat rows
    of that many values (reshaped for the layers and back)."""
    keras = load_keras()
    layers = [_layer(keras, index, item, scaled) for index, item in enumerate(items)]
    if on_jax():
        return _numpy_augmenter(keras, layers, seed, image_shape)
    tf = load_tensorflow()
    batch_seed = _batch_seed_class(keras, tf)

    def augment(batch, epoch, step):
        flat = len(batch.shape) == 2
        images = tf.reshape(batch, [-1, *image_shape]) if flat else batch
        for index, layer in enumerate(layers):
            draws = batch_seed([seed, index], epoch, step)
            change = layer.get_random_transformation(images, training=True, seed=draws)
            images = layer.transform_images(images, change, training=True)
        images = tf.cast(images, batch.dtype)
        return tf.reshape(images, [-1, math.prod(image_shape)]) if flat else images

    return augment


def _layer(keras, index: int, item, scaled: bool):
    name, args = (item, {}) if isinstance(item, str) else (item.name, dict(item.args))
    cls = getattr(keras.layers, name)
    if scaled and "value_range" in inspect.signature(cls).parameters:
        args.setdefault("value_range", [0.0, 1.0])
    try:
        return cls(**args)
    except (TypeError, ValueError) as error:  # a value the table cannot know is wrong
        raise UsageError(f"data.augment[{index}]: {name}: {error}") from None


def _batch_seed_class(keras, tf):
    """A `SeedGenerator` (Keras's random ops take one) whose `next()` gives a stateless
    seed for this batch, another for each draw a layer makes; it holds no state variable
    (its base `__init__`, which makes one, is not called)."""
    fold = tf.random.experimental.stateless_fold_in

    class BatchSeed(keras.random.SeedGenerator):
        def __init__(self, base, epoch, step):  # noqa: D107 - no state on purpose
            seed = tf.constant(base, dtype=tf.int64)
            self._batch = fold(fold(seed, tf.cast(epoch, tf.int64)), tf.cast(step, tf.int64))
            self._draws = 0

        def next(self, ordered=True):
            self._draws += 1
            return fold(self._batch, self._draws)

    return BatchSeed


def _numpy_augmenter(keras, layers, seed: int, image_shape: tuple):
    """On JAX: the layers on a NumPy batch (`numpy_feeding.py`), eagerly, each draw's
    seed a function of `(seed, layer, epoch, step, draw)` alone (NumPy's PCG64), given
    as the raw key JAX's random functions take."""

    class BatchSeed(keras.random.SeedGenerator):
        def __init__(self, base, epoch, step):  # noqa: D107 - no state on purpose
            self._batch, self._draws = [*base, int(epoch), int(step)], 0

        def next(self, ordered=True):
            self._draws += 1
            key = np.random.default_rng([*self._batch, self._draws]).integers(0, 2**32, 2)
            return keras.ops.convert_to_tensor(key.astype(np.uint32))

    def augment(batch, epoch, step):
        flat = batch.ndim == 2
        images = batch.reshape(-1, *image_shape) if flat else batch
        for index, layer in enumerate(layers):
            draws = BatchSeed([seed, index], epoch, step)
            change = layer.get_random_transformation(images, training=True, seed=draws)
            images = layer.transform_images(images, change, training=True)
        images = keras.ops.convert_to_numpy(images).astype(batch.dtype, copy=False)
        return images.reshape(-1, math.prod(image_shape)) if flat else images

    return augment
