"""Feed the arrays to `fit` as a `tf.data` pipeline whose order depends only on the epoch.

Keras shuffles NumPy arrays with a stateful random op, so the order of epoch 7
depends on how many epochs ran before in the same process: a resumed run would
see other batches than an uninterrupted one. Here each epoch's order is a
permutation drawn from a generator seeded with `(seed, epoch)` alone, so epoch
7 is the same batches whether the process started at epoch 0 or resumed at
epoch 5.

Like Keras with arrays: `validation_split` holds out the *last* fraction of the
training arrays (before shuffling), and with `steps_per_epoch` each epoch takes
that many batches from the start of its own permutation.

Features stay as stored (MNIST's uint8 stays uint8): each batch is cast to float32
and divided by the dataset's `scale` inside the pipeline, so no float32 copy of the
whole set ever exists. The stored bytes are copied into TensorFlow once, in slices,
giving a memory-mapped file's pages back after each (`cbrun/data/mapping.py`).

The batch functions given to `Dataset.map` are not converted by AutoGraph: they branch
on Python values only (the scale, whether to augment), so the conversion changed nothing
but cost each process 0.2-0.3 CPU-seconds of source parsing on its first run (four
conversions, measured here) and left its generated files in the temporary folder when
the process was killed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cbrun.backend import load_keras, load_tensorflow, on_jax
from cbrun.data import numpy_feeding
from cbrun.data.mapping import release_pages
from cbrun.errors import DataError

# Rows copied into TensorFlow at a time: the copy's extra memory is one slice.
COPY_ROWS = 8192


@dataclass
class FitData:
    """What `model.fit` receives, and how many steps make an epoch.

    `train` is one epoch long and is read anew each epoch, in the order that
    `callback` writes into it at each epoch's start.
    """

    train: object
    steps_per_epoch: int
    validation: tuple | None
    callback: object
    notes: tuple = ()  # lines for the console: images a pass leaves out (numpy_feeding.py)


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float):
    """`(x_train, y_train), (x_val, y_val) or None`: the last `fraction` held out, as Keras does."""
    if not fraction:
        return (x, y), None
    cut = int(len(x) * (1.0 - fraction))
    if cut == 0 or cut == len(x):
        from cbrun.errors import UsageError

        raise UsageError(
            f"data.validation_split {fraction} leaves no training or no validation images "
            f"out of {len(x)}"
        )
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def epoch_order(count: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The order of the `count` training images in `epoch`: a function of `(seed, epoch)` only.

    NumPy's PCG64 seeded with `[seed, epoch]` gives the same permutation on every
    platform and NumPy version that keeps `Generator.permutation` stable.
    """
    if not shuffle:
        return np.arange(count, dtype=np.int32)
    return np.random.default_rng([seed, epoch]).permutation(count).astype(np.int32)


def fit_data(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    steps_per_epoch: int | None,
    shuffle: bool,
    validation_split: float,
    validation: tuple | None = None,
    scale: float | None = None,
    augment=None,
) -> FitData:
    """The training pipeline (one epoch, ordered by the current epoch) and the validation
    arrays (`validation`, else the last `validation_split` of the training ones), both as
    float32 batches divided by `scale`; `augment(batch, epoch, step)` changes training's.

    Keras gets no `steps_per_epoch`: it reads the one-epoch dataset to its end, so no chunk of
    `steps_per_execution` steps runs into the next epoch's. JAX's: `numpy_feeding.py`.
    """
    if validation is None:
        (x, y), validation = split_validation(x, y, validation_split)
    count, batches = len(x), math.ceil(len(x) / batch_size)
    steps, order_of = steps_per_epoch or batches, lambda at: epoch_order(count, seed, at, shuffle)
    if on_jax():
        return _fed_by_numpy(
            x, y, batch_size, steps_per_epoch, order_of, validation, scale, augment
        )
    tf = load_tensorflow()
    # One copy into TensorFlow, as stored; batches are gathered from it by index.
    images = stored_tensor(x)
    labels = tf.constant(y)
    as_input = model_input(scale)
    # This epoch's order and number, written by the callback below before each epoch.
    order = tf.Variable(np.arange(count, dtype=np.int32), trainable=False)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow ops: see the docstring above
    def batch(step):
        # More steps than batches: go round the same permutation again, as Keras would.
        start = tf.cast(step % batches, tf.int32) * batch_size
        indices = order[start : tf.minimum(start + batch_size, count)]
        features = as_input(tf.gather(images, indices))
        features = augment(features, epoch, step) if augment else features
        return features, tf.gather(labels, indices)

    # A step counter mapped to batches: the length is known without assert_cardinality,
    # and there is no per-epoch flat_map, batch or repeat stage in the way (measured
    # in one process, full MNIST MLP: ~1 % faster per epoch than with those stages, and
    # 1-2 % faster than Keras's own array path).
    dataset = (
        tf.data.Dataset.range(steps)
        .map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    dataset = dataset.with_options(_options())

    callback = _epoch_callback(order, epoch, order_of)
    batched = validation and in_batches(*validation, batch_size=batch_size, scale=scale)
    return FitData(dataset, steps, batched, callback)


def _fed_by_numpy(x, y, batch_size, steps_per_epoch, order_of, validation, scale, augment):
    """`fit_data` on JAX: the same batches as a PyDataset (`numpy_feeding.py`)."""
    train, held, callback = numpy_feeding.fit_data(
        x, y, batch_size, steps_per_epoch, order_of, validation, scale, augment
    )
    notes = (dropped_note("training", train), dropped_note("validation", held))
    return FitData(train, len(train), held, callback, tuple(n for n in notes if n))


def _epoch_callback(order, epoch, order_of):
    """A callback that writes each epoch's order and number into the pipeline before
    Keras opens its iterator."""
    keras = load_keras()

    class EpochOrder(keras.callbacks.Callback):
        def on_epoch_begin(self, index, logs=None):
            order.assign(order_of(index))
            epoch.assign(index)

    return EpochOrder()


def dropped_note(what: str, batches) -> str | None:
    """The line saying how many images a pass leaves out (JAX's DataParallel), or None."""
    dropped = getattr(batches, "dropped", 0)
    if not dropped:
        return None
    return (
        f"distribute: {dropped} of {len(batches.x):,} {what} images left out of each pass (the "
        f"last batch is cut to a multiple of the devices, which JAX needs to split it)"
    )


def in_batches(x: np.ndarray, y: np.ndarray, *, batch_size: int, scale: float | None):
    """`(x, y)` in order, as float32 batches divided by `scale`: validation and test data
    fed the way training data is (as stored, cast per batch)."""
    if on_jax():
        return numpy_feeding.in_batches(x, y, batch_size=batch_size, scale=scale)
    tf = load_tensorflow()

    images, labels = stored_tensor(x), tf.constant(y)
    as_input = model_input(scale)
    count = len(x)

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow ops: see the docstring above
    def batch(step):
        start = tf.cast(step, tf.int32) * batch_size
        end = tf.minimum(start + batch_size, count)
        return as_input(images[start:end]), labels[start:end]

    dataset = tf.data.Dataset.range(math.ceil(count / batch_size)).map(
        batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_options())


def model_input(scale: float | None):
    """The function that turns a stored batch into what the model takes: float32, divided
    by `scale` (MNIST's 255) when there is one."""
    tf = load_tensorflow()

    def as_input(batch):
        batch = tf.cast(batch, tf.float32)
        # Divided, not multiplied by 1/255: the same floats as `x / 255.0` in NumPy.
        return batch / scale if scale else batch

    return as_input


def stored_tensor(x: np.ndarray):
    """`x` in TensorFlow with its own dtype, copied in slices of COPY_ROWS rows.

    `tf.constant` on a large array holds two copies for a moment (measured: 360 MB
    extra for 180 MB of uint8); writing slices into a variable holds one, and a
    memory-mapped file's pages are given back after each slice.
    """
    tf = load_tensorflow()

    if len(x) <= COPY_ROWS:
        return tf.constant(x)
    stored = tf.Variable(tf.zeros(x.shape, x.dtype), trainable=False)
    for start in range(0, len(x), COPY_ROWS):
        # The raw op returns nothing: `variable[a:b].assign` returns a read of the whole
        # variable, which makes the next slice copy it first (measured: one copy more).
        tf.raw_ops.ResourceStridedSliceAssign(
            ref=stored.handle,
            begin=[start],
            end=[start + COPY_ROWS],
            strides=[1],
            value=x[start : start + COPY_ROWS],
        )
        release_pages(x)
    return stored


def _options():
    """tf.data options of the training pipeline."""
    tf = load_tensorflow()

    options = tf.data.Options()
    # As Keras does for arrays: tf.data's default graph rewrites cost more than they
    # save on a gather pipeline this simple (measured: ~1% per epoch).
    options.experimental_optimization.apply_default_optimizations = False
    # Under a multi-worker strategy every worker reads the whole pipeline in the same
    # epoch order; tf.distribute splits each global batch between the replicas.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return options


def class_weights(
    given, labels: np.ndarray, num_classes: int | None, origins: dict | None = None
) -> dict[int, float] | None:
    """`fit.class_weight` as Keras takes it: every class with a weight (1 where the config
    names none); `balanced` is total / (classes x count), from the training labels (a class
    with no label weighs 1). A class named that no training label holds is refused, at
    the `file:line:col` `origins` (`RunSpec._origins`) gives for it."""
    if given is None or num_classes is None:
        return None
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    named = given if isinstance(given, dict) else {}
    absent = sorted(c for c in named if c >= len(counts) or not counts[c])
    if absent:
        held = ", ".join(str(c) for c in np.flatnonzero(counts))
        where = (origins or {}).get(f"fit.class_weight[{absent[0]}]")
        raise DataError(
            f"{where + ': ' if where else ''}fit.class_weight: class {absent[0]} has no "
            f"training label (y_train holds classes {held}): weigh only classes the labels hold"
        )
    if given == "balanced":
        total = float(counts.sum())
        return {c: (total / (num_classes * int(n)) if n else 1.0) for c, n in enumerate(counts)}
    return {c: float(given.get(c, 1.0)) for c in range(num_classes)}


def fit_data_for(spec, dataset) -> FitData:
    """`fit_data` as a run's config (`RunSpec`) and dataset ask."""
    return fit_data(
        dataset.x_train,
        dataset.y_train,
        batch_size=spec.fit.batch_size,
        seed=spec.seed,
        steps_per_epoch=spec.fit.steps_per_epoch,
        shuffle=spec.fit.shuffle,
        validation_split=spec.data.validation_split,
        validation=None if dataset.x_val is None else (dataset.x_val, dataset.y_val),
        scale=dataset.scale,
        augment=augmenter_for(spec, dataset),
    )


def augmenter_for(spec, dataset):
    """`data.augment` as a function on training batches (`augment.py`), or None."""
    if not spec.data.augment:
        return None
    from cbrun.data.augment import augmenter

    return augmenter(spec.data.augment, spec.seed, dataset.image_shape, bool(dataset.scale))
