"""The guide's callbacks behave as the guide describes, on real (tiny) training runs."""

from __future__ import annotations

import csv
import datetime
import json
import re

import keras
import numpy as np
import pytest

from cbrun.build.callbacks.early_stopping import EarlyStoppingAtMinLoss
from cbrun.build.callbacks.printing import BatchTimestamps
from cbrun.output.logsink import LogSink


class _Lines(LogSink):
    def __init__(self):
        super().__init__()
        self.lines = []

    def line(self, text, **kwargs):
        self.lines.append(str(text))


class _Snapshots(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = {}
        self.losses = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = self.model.get_weights()
        self.losses[epoch] = logs["loss"]


def _linear_model(lr):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


@pytest.mark.parametrize("patience", [0, 2])
def test_early_stopping_at_min_loss_restores_the_best_epoch(patience):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    noise = np.random.default_rng(1).normal(size=64).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5, 3.0], "float32") + noise
    # Small noisy batches: the loss falls to the noise floor, then wanders around it.
    model = _linear_model(0.2)
    snapshots = _Snapshots()
    stopper = EarlyStoppingAtMinLoss(patience=patience)
    stopper.sink = _Lines()
    history = model.fit(
        x, y, batch_size=8, epochs=40, verbose=0, shuffle=False, callbacks=[snapshots, stopper]
    )
    losses = history.history["loss"]
    best = int(np.argmin(losses))
    stopped = len(losses) - 1
    assert stopped < 39, "expected the run to stop early"
    # It stops at the first epoch that leaves the best `patience + 1` epochs behind.
    assert stopped == best + patience + 1
    assert all(losses[e] >= losses[best] for e in range(best + 1, stopped + 1))
    for got, want in zip(model.get_weights(), snapshots.weights[best], strict=True):
        np.testing.assert_array_equal(got, want)
    assert stopper.sink.lines == [
        f"Epoch {stopped + 1:05d}: early stopping; restored the weights of epoch {best + 1} "
        f"(loss {losses[best]:.4f})"
    ]


def test_early_stopping_at_min_loss_checks_patience():
    with pytest.raises(ValueError, match=r"Received: patience=-1"):
        EarlyStoppingAtMinLoss(patience=-1)


def test_batch_timestamps_fire_in_order_with_rising_times():
    x = np.zeros((64 * 3, 4), "float32")
    y = np.zeros((64 * 3,), "float32")
    model = _linear_model(0.01)
    stamps = BatchTimestamps()
    stamps.sink = _Lines()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[stamps])
    model.evaluate(x[:128], y[:128], batch_size=64, verbose=0, callbacks=[stamps])
    pattern = re.compile(r"^(Training|Evaluating): batch (\d+) (begins|ends) at (\S+)$")
    events = [pattern.match(line).groups() for line in stamps.sink.lines]
    assert [(w, int(b), e) for w, b, e, _ in events] == [
        ("Training", 0, "begins"),
        ("Training", 0, "ends"),
        ("Training", 1, "begins"),
        ("Training", 1, "ends"),
        ("Training", 2, "begins"),
        ("Training", 2, "ends"),
        ("Evaluating", 0, "begins"),
        ("Evaluating", 0, "ends"),
        ("Evaluating", 1, "begins"),
        ("Evaluating", 1, "ends"),
    ]
    # Clock times, as the guide prints them; compared as seconds into the day, modulo a day,
    # so that a run across midnight still counts as rising.
    seconds = []
    for *_, text in events:
        clock = datetime.time.fromisoformat(text)
        seconds.append(
            clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6
        )
    steps = [
        (later - earlier) % 86400 for earlier, later in zip(seconds, seconds[1:], strict=False)
    ]
    assert all(step < 600 for step in steps), steps


def test_lr_schedule_config_follows_the_guide_table(cli, tmp_path):
    result = cli(
        "train",
        "configs/lr_schedule.yaml",
        "--runs-dir",
        tmp_path,
        "--set",
        "data.source=bundled",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    run = next(tmp_path.iterdir())
    with open(run / "history.csv") as f:
        rates = [float(r["learning_rate"]) for r in csv.DictReader(f)]
    assert rates == [0.1] * 3 + [0.05] * 3 + [0.01] * 3 + [0.005] * 3 + [0.001] * 3
    log = (run / "train.log").read_text()
    assert "Epoch 00004: Learning rate is 0.0500." in log  # the 4th epoch, counted from 1
    # The optimizer really used the last rate: the saved model's optimizer holds it.
    model = keras.models.load_model(run / "model.keras")
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.001)


def test_declarative_schedule_with_keras_scheduler(tiny_config, train):
    config = tiny_config("""
        fit: {batch_size: 32, epochs: 4, steps_per_epoch: 2}
        callbacks:
          - name: LearningRateScheduler
            args: {schedule: {type: step, every: 2, factor: 0.5}}
    """)
    result, run = train(config)
    assert result.exit_code == 0, result.output
    with open(run / "history.csv") as f:
        rates = [float(r["learning_rate"]) for r in csv.DictReader(f)]
    assert rates == [0.01, 0.01, 0.005, 0.005]


def test_guide_callbacks_also_run_in_evaluate(cli, tmp_path):
    result = cli(
        "train", "configs/batch_timing.yaml", "--runs-dir", tmp_path, "--set", "data.source=bundled"
    )
    assert result.exit_code == 0, result.output
    log = (next(tmp_path.iterdir()) / "train.log").read_text()
    assert log.count("Training: batch") == 10
    assert log.count("Evaluating: batch") == 10
    assert "steps_per_execution 1: BatchTimestamps needs every batch hook" in log


def test_keras_builtins_from_yaml(cli, tmp_path):
    result = cli(
        "train",
        "configs/builtins.yaml",
        "--runs-dir",
        tmp_path,
        "--set",
        "data.source=bundled",
        "--set",
        "data.limit.train=1000",
        "--set",
        "fit.epochs=2",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    run = next(tmp_path.iterdir())
    epochs = json.loads((run / "summary.json").read_text())["epochs_run"]
    with open(run / "epochs.csv") as f:
        assert len(list(csv.DictReader(f))) == epochs
    keras.models.load_model(run / "checkpoints" / "best.keras")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard" / "train"))
    events.Reload()
    tags = events.Tags()["tensors"] + events.Tags()["scalars"]
    assert "epoch_loss" in tags and "epoch_accuracy" in tags
    steps = [
        e.step
        for e in (
            events.Tensors("epoch_loss")
            if "epoch_loss" in events.Tags()["tensors"]
            else events.Scalars("epoch_loss")
        )
    ]
    assert steps == list(range(epochs))
