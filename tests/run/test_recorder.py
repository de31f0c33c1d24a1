"""The recorder owns the run's state: rows, times, the NaN flag, checkpoints."""

from __future__ import annotations

import json
import math

import keras
import numpy as np

from cbrun.output.rundir import RunDir
from cbrun.run import checkpoints
from cbrun.run.recorder import RunRecorder, float32_digits


def _fit(callbacks, epochs=3, y_scale=1.0, lr=0.01):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) * y_scale).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks)
    return model


def test_each_whole_epoch_is_a_row_with_the_learning_rate():
    recorder = RunRecorder()
    _fit([recorder])
    assert [row["epoch"] for row in recorder.history] == [0, 1, 2]
    assert all(row["learning_rate"] == 0.01 for row in recorder.history)
    assert set(recorder.history[0]) == {"epoch", "loss", "mae", "learning_rate"}
    assert len(recorder.epoch_seconds) == 3 and all(s > 0 for s in recorder.epoch_seconds)
    assert recorder.recorded(2) and not recorder.recorded(1)


def test_a_nonfinite_loss_stops_and_is_not_recorded():
    recorder = RunRecorder()
    _fit([recorder], y_scale=1e30, lr=1e10)
    epoch, (first, last), loss = recorder.nonfinite
    assert not math.isfinite(loss) and 1 <= first == last <= 4  # 64 samples, batch 16
    assert [row["epoch"] for row in recorder.history] == list(range(epoch))


def test_a_nonfinite_loss_names_the_steps_of_its_execution():
    """Keras numbers a chunk of steps_per_execution steps as if whole: the recorder says the
    steps the chunk really covered, within the epoch."""
    recorder = RunRecorder()
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(48, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1e10), loss="mse", steps_per_execution=8)
    model.fit(x, x.sum(axis=1) * 1e30, batch_size=16, epochs=2, verbose=0, callbacks=[recorder])
    assert recorder.nonfinite[1] == (1, 3)  # 3 batches in one execution of 8 steps


def test_best_epochs_follow_each_metric_direction():
    recorder = RunRecorder()
    recorder.history = [
        {"epoch": 0, "loss": 0.5, "accuracy": 0.8},
        {"epoch": 1, "loss": 0.4, "accuracy": 0.7},
    ]
    assert recorder.best_epochs() == {"loss": (1, 0.4), "accuracy": (0, 0.8)}


def test_every_epoch_is_checkpointed_with_history_and_declared_state(tmp_path):
    run = RunDir.exact(tmp_path / "run")
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=5, min_delta=0.5, mode="min")
    recorder = RunRecorder(run, [stopper])
    _fit([stopper, recorder])
    names = sorted(p.name for p in (run.path / checkpoints.BACKUP).iterdir())
    assert names == [f"epoch-00000{e}.{kind}" for e in (2, 3) for kind in ("json", "npz")]
    saved = json.loads((run.path / "backup" / "epoch-000003.json").read_text())
    assert [row["epoch"] for row in saved["history"]] == [0, 1, 2]
    (state,) = saved["callback_states"]
    assert state["class"] == "EarlyStopping"
    assert state["state"]["wait"] == {"value": stopper.wait}
    assert "min_delta" not in state["state"] and "patience" not in state["state"]
    assert (run.path / "history.csv").read_text().startswith("epoch,learning_rate,loss,mae\n")


def test_float32_digits():
    assert float32_digits(np.float32(0.1)) == 0.1
