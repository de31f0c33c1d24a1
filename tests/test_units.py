"""Modules tested directly, each on its own (the end-to-end tests exercise them together)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from rich.console import Console

from cbrun.after.inference import prediction_item
from cbrun.after.views import digit, runs_table
from cbrun.backend import refuse_capping_environment
from cbrun.build import callback_state
from cbrun.build.callback_factory import AUTO_STEPS_PER_EXECUTION, steps_per_execution
from cbrun.build.callbacks.early_stopping import EarlyStoppingAtMinLoss
from cbrun.build.callbacks.printing import LossAndErrorPrinting
from cbrun.catalog.listing import snippet
from cbrun.catalog.metrics import best_epochs
from cbrun.config.composition import merge, origins
from cbrun.config.loading import load_config
from cbrun.config.rules import logged_metrics
from cbrun.config.yaml_loader import load_yaml
from cbrun.data.arrays import check_arrays
from cbrun.errors import UsageError
from cbrun.migrate.keras3_changes import NUMPY_MECHANICAL, NUMPY_REMOVED
from cbrun.migrate.source_edits import SourceText
from cbrun.output.summary import RunStatus, Summary


def test_keras_monitor_state_is_counters_never_arguments():
    stopper = keras.callbacks.EarlyStopping(monitor="loss", min_delta=0.5, patience=4, mode="min")
    stopper.wait, stopper.best, stopper.best_epoch = 2, 0.25, 3
    state = callback_state.get_state(stopper)
    assert state == {
        "wait": 2,
        "stopped_epoch": 0,
        "best": 0.25,
        "best_epoch": 3,
        "best_weights": None,
    }
    fresh = keras.callbacks.EarlyStopping(monitor="loss", min_delta=0.5, patience=4, mode="min")
    fresh.min_delta = -0.5  # as Keras leaves it after deciding the direction
    callback_state.set_state(fresh, dict(state, min_delta=123, patience=99))
    assert (fresh.wait, fresh.best, fresh.min_delta, fresh.patience) == (2, 0.25, -0.5, 4)


def test_state_encoding_keeps_arrays_lists_and_infinities():
    weights = [np.arange(3.0), np.ones((2, 2))]
    plain, arrays = callback_state.encode(
        {"best": math.inf, "n": np.int64(3), "w": weights, "one": np.zeros(2)}, "cb0/"
    )
    assert plain["n"] == {"value": 3} and sorted(arrays) == ["cb0/one", "cb0/w/0", "cb0/w/1"]
    back = callback_state.decode(plain, arrays, "cb0/")
    assert back["best"] == math.inf and back["n"] == 3
    assert all(np.array_equal(a, b) for a, b in zip(back["w"], weights, strict=True))


def test_who_declares_state():
    assert callback_state.declares_state(EarlyStoppingAtMinLoss())
    assert callback_state.declares_state(LossAndErrorPrinting())
    assert callback_state.declares_state(keras.callbacks.TerminateOnNaN())

    class Plain(keras.callbacks.Callback):
        pass

    assert callback_state.fresh_on_resume([Plain(), Plain(), LossAndErrorPrinting()]) == ["Plain"]


def test_steps_per_execution_follows_the_batch_hooks(write_config):
    spec = load_config(
        write_config("model: {name: linear}\ncompile: {loss: mse}\nfit: {epochs: 1}\n")
    )
    assert steps_per_execution(spec, []) == (
        AUTO_STEPS_PER_EXECUTION,
        "no callback needs every batch hook",
    )
    per_batch = [(keras.callbacks.TerminateOnNaN(), ("fit",))]
    assert steps_per_execution(spec, per_batch) == (1, "TerminateOnNaN needs every batch hook")


def test_run_status_knows_its_exit_code():
    codes = {status.value: status.exit_code for status in RunStatus}
    assert codes == {
        "running": 1,
        "completed": 0,
        "stopped_early": 0,
        "nan": 3,
        "interrupted": 130,
        "terminated": 143,
        "failed": 1,
    }
    assert RunStatus.for_signal("SIGTERM") is RunStatus.TERMINATED
    assert [s.value for s in RunStatus if s.finished] == ["completed", "stopped_early"]


def test_summary_round_trip_and_finish():
    summary = Summary(status=RunStatus.RUNNING, name="x")
    summary.running(
        pid=1, data={"dataset": "mnist"}, from_epoch=0, distribute={"strategy": "default"}
    )
    summary.finish(RunStatus.COMPLETED, [{"epoch": 0, "loss": 0.5}], [1.25], elapsed=2.0)
    data = summary.to_json()
    assert data["status"] == "completed" and data["train"] == {"loss": 0.5} and "pid" not in data
    assert Summary.model_validate(data).segments[0].from_epoch == 0


@pytest.mark.parametrize(
    "label,output,classes,expected",
    [
        (3, [0.1, 0.7, 0.2], 3, {"prediction": 1, "confidence": 0.7}),
        (7, [6.6], 10, {"prediction": 7, "confidence": None, "output": 6.6}),  # the guide's linear
        (7, [42.0], 10, {"prediction": 9, "confidence": None, "output": 42.0}),  # clipped to 9
        (1.5, [1.25], None, {"prediction": 1.25, "confidence": None, "label": 1.5}),  # regression
    ],
)
def test_prediction_items(label, output, classes, expected):
    item = prediction_item(0, label, np.asarray(output), classes)
    assert {k: item[k] for k in expected} == pytest.approx(expected)


def test_views():
    image = np.zeros((28, 28))
    image[0:2, 0] = 1.0
    rows = digit(image).splitlines()
    assert len(rows) == 14 and rows[0][0] == "█" and set(rows[1]) == {" "}
    table, _ = runs_table(
        "runs",
        [
            {
                "path": "runs/a",
                "status": "completed",
                "epochs": 2,
                "final": {"loss": 0.5},
                "best": {"loss": 0.4},
                "evaluate": {},
                "seconds": 1.5,
            }
        ],
        Console(width=120),
    )
    assert [c.header for c in table.columns][:2] == ["run", "status"]


def test_capping_environment_is_refused(monkeypatch):
    monkeypatch.setenv("KERAS_MAX_STEPS_PER_EPOCH", "2")
    with pytest.raises(UsageError, match="KERAS_MAX_STEPS_PER_EPOCH=2 is set"):
        refuse_capping_environment()


def test_best_epochs_and_snippet():
    assert best_epochs([{"epoch": 0, "val_loss": 2.0}, {"epoch": 1, "val_loss": 1.0}]) == {
        "val_loss": (1, 1.0)
    }
    from cbrun.catalog.callbacks import callback_registry

    text = snippet(callback_registry().get("EarlyStopping"))
    assert text.startswith("callbacks:\n- name: EarlyStopping\n  args:\n    monitor: val_loss\n")


def test_merge_keeps_each_value_where_it_was_set():
    base = load_yaml("fit: {epochs: 1, batch_size: 8}\ncallbacks: [A]\n", "base.yaml")
    child = load_yaml("fit: {epochs: 2}\ncallbacks+: [B]\n", "child.yaml")
    merged = merge(base, child)
    assert merged.data == {"fit": {"epochs": 2, "batch_size": 8}, "callbacks": ["A", "B"]}
    assert origins(merged) == [
        ("fit.batch_size", 8, "base.yaml:1:30"),
        ("callbacks[0]", "A", "base.yaml:2:13"),
        ("fit.epochs", 2, "child.yaml:1:15"),
        ("callbacks[1]", "B", "child.yaml:2:14"),
    ]


def test_logged_metric_names(write_config):
    spec = load_config(
        write_config(
            "model: {name: mlp}\ncompile: {loss: sparse_categorical_crossentropy, metrics: "
            "[mae, {name: AUC}, {name: SparseTopKCategoricalAccuracy, args: {name: top}}]}\n"
            "fit: {epochs: 1}\n"
        )
    )
    assert logged_metrics(spec) == {"loss": "down", "mae": "down", "auc": "up", "top": "up"}


def test_arrays_infer_the_class_count_or_a_regression():
    x = np.zeros((4, 3), np.float32)
    ints = {
        "x_train": x,
        "y_train": np.array([0, 1, 2, 4]),
        "x_test": x,
        "y_test": np.array([0, 0, 1, 1]),
    }
    assert check_arrays("d.npz", ints, None) == 5
    floats = dict(ints, y_train=np.ones(4, np.float32), y_test=np.ones(4, np.float32))
    assert check_arrays("d.npz", floats, None) is None


def test_source_edits_count_characters():
    source = SourceText("s = 'é'; x = np.Inf\n")
    assert source.char_col(1, len("s = 'é'; x = ".encode())) == len("s = 'é'; x = ")
    edit = source.edit(
        1,
        len("s = 'é'; x = np.".encode()),
        1,
        len("s = 'é'; x = np.Inf".encode()),
        "inf",
        expect="Inf",
    )
    assert source.apply([edit]) == "s = 'é'; x = np.inf\n"
    assert source.edit(1, 0, 1, 1, "t", expect="x") is None  # not what was expected: no edit


def test_numpy_table():
    assert NUMPY_REMOVED["Inf"] == "np.inf" and "Inf" in NUMPY_MECHANICAL
    assert "msort" not in NUMPY_MECHANICAL  # its replacement is not a drop-in name
