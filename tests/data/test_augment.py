"""`data.augment`: every listed layer on real image batches, seeded by (seed, epoch, step),
training batches only, and a resumed run that sees exactly the batches of an
uninterrupted one."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import cbrun
from cbrun.catalog.datasets import AUGMENT_LAYERS
from cbrun.config.spec import NamedSpec
from cbrun.data.augment import augmenter
from cbrun.data.feeding import fit_data

# Arguments each layer needs (the rest have working defaults).
ARGS = {
    "RandomRotation": {"factor": 0.1},
    "RandomZoom": {"height_factor": 0.2},
    "RandomTranslation": {"height_factor": 0.2, "width_factor": 0.2},
    "RandomShear": {"x_factor": 0.3},
    "RandomContrast": {"factor": 0.5},
    "RandomBrightness": {"factor": 0.3},
    "RandomInvert": {"factor": 1.0},
}


def _pixels(count=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 28, 28, 1), dtype=np.uint8)


def _pipeline(items, x, *, seed=5, validation_split=0.0, flat=False):
    augment = augmenter(items, seed, (28, 28, 1), scaled=True)
    features = x.reshape(len(x), -1) if flat else x
    labels = np.arange(len(x), dtype=np.int32)
    settings = dict(batch_size=16, seed=seed, steps_per_epoch=None, shuffle=True)
    return fit_data(
        features,
        labels,
        validation_split=validation_split,
        scale=255.0,
        augment=augment,
        **settings,
    )


def _epoch(data, epoch):
    data.callback.on_epoch_begin(epoch)
    return [(x.numpy(), y.numpy()) for x, y in data.train]


@pytest.mark.parametrize("name", AUGMENT_LAYERS)
def test_each_layer_changes_training_batches_and_keeps_their_shape(name):
    x = _pixels()
    item = NamedSpec(name=name, args=ARGS.get(name, {}))
    (images, ids), *_ = _epoch(_pipeline([item], x), 0)
    assert images.shape == (16, 28, 28, 1) and images.dtype == np.float32
    assert np.isfinite(images).all()
    plain = x[ids].astype(np.float32) / 255.0
    assert not np.array_equal(images, plain), f"{name} left every image as it was"


def test_the_same_seed_epoch_and_step_give_the_same_batches_in_another_pipeline():
    items = ["RandomFlip", NamedSpec(name="RandomRotation", args={"factor": 0.2})]
    x = _pixels()
    first, again = _pipeline(items, x), _pipeline(items, x)
    # The second pipeline starts at epoch 2, as a resumed run does.
    epoch_2 = _epoch(first, 2)
    for (a, ids_a), (b, ids_b) in zip(_epoch(again, 2), epoch_2, strict=True):
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(a, b)
    # What ran before does not matter (epoch 3 first, then 2); the epoch and seed do.
    after_3 = _pipeline(items, x)
    _epoch(after_3, 3)
    again_2 = _epoch(after_3, 2)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(again_2, epoch_2, strict=True))
    assert not np.array_equal(_epoch(after_3, 3)[0][0], epoch_2[0][0])
    other_seed = _epoch(_pipeline(items, x, seed=6), 2)
    assert not np.array_equal(other_seed[0][0], epoch_2[0][0])


def test_flat_rows_are_augmented_as_images_and_validation_never_is():
    x = _pixels()
    data = _pipeline(["RandomFlip"], x, validation_split=0.25, flat=True)
    (images, ids), *_ = _epoch(data, 0)
    assert images.shape == (16, 784)
    assert not np.array_equal(images, x[ids].reshape(16, -1) / np.float32(255.0))
    (held_out, held_ids), *_ = [(a.numpy(), b.numpy()) for a, b in data.validation]
    np.testing.assert_array_equal(held_out, x[36:].reshape(12, -1) / np.float32(255.0))


def _history(run) -> list[dict]:
    with open(run.run_dir / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


AUGMENTED = """
data:
  dataset: mnist
  source: bundled
  limit: {train: 256, test: 64}
  augment:
    - {name: RandomRotation, args: {factor: 0.1}}
    - {name: RandomZoom, args: {height_factor: 0.1}}
"""


def test_a_resumed_run_trains_on_the_same_augmented_batches(tiny_config, tmp_path):
    config = tiny_config(AUGMENTED)
    whole = cbrun.train(config, ["fit.epochs=3"], runs_dir=tmp_path / "a", quiet=True)
    part = cbrun.train(config, ["fit.epochs=2"], runs_dir=tmp_path / "b", quiet=True)
    resumed = cbrun.train(None, ["fit.epochs=3"], resume=part.run_dir, quiet=True)
    assert resumed.run_dir == part.run_dir and len(_history(resumed)) == 3
    assert [row["loss"] for row in _history(resumed)] == [row["loss"] for row in _history(whole)]
    unaugmented = tiny_config(AUGMENTED.split("  augment:")[0])
    plain = cbrun.train(unaugmented, ["fit.epochs=1"], runs_dir=tmp_path / "c", quiet=True)
    assert _history(plain)[0]["loss"] != _history(whole)[0]["loss"]


def test_a_value_keras_refuses_is_one_line_naming_the_layer():
    from cbrun.errors import UsageError

    with pytest.raises(UsageError, match=r"^data.augment\[1\]: RandomZoom: "):
        augmenter(
            ["RandomFlip", NamedSpec(name="RandomZoom", args={"height_factor": 7})],
            0,
            (28, 28, 1),
            True,
        )


def test_arrays_that_are_not_images_cannot_be_augmented(tmp_path, write_config):
    from cbrun.config.loading import load_config
    from cbrun.errors import ConfigError

    rows = np.zeros((8, 12), np.float32)
    np.savez(
        tmp_path / "rows.npz",
        x_train=rows,
        y_train=np.zeros(8, int),
        x_test=rows,
        y_test=np.zeros(8, int),
    )
    config = write_config(
        "model: {name: mlp}\ncompile: {loss: sparse_categorical_crossentropy}\nfit: {epochs: 1}\n"
        f"data: {{dataset: arrays, path: {tmp_path / 'rows.npz'}, augment: [RandomFlip]}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert (
        "data.augment: augment needs images (height x width x channels); x_train rows are 12"
        in str(caught.value)
    )
