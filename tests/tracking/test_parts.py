"""The small parts of tracking and of a run's end, on plain data."""

from __future__ import annotations

from types import SimpleNamespace

from cbrun.after.tracked import track_run
from cbrun.catalog.extras import missing_extra
from cbrun.cli.results import track
from cbrun.output.summary import RunStatus
from cbrun.run.ending import fit_status
from cbrun.sweep.reporting import objective_of
from cbrun.sweep.tracking import tag_trial
from cbrun.tracking.mlflow_logger import STATUSES, default_uri
from cbrun.tracking.session import TRACKING, read_state, sweep_of
from cbrun.tracking.tensorboard import result_values


def test_results_are_final_best_and_evaluate_values():
    history = [{"epoch": 0, "loss": 2.0, "val_loss": 1.5}, {"epoch": 1, "loss": 1.0}]
    best = {"loss": (1, 1.0), "val_loss": (0, 1.5)}
    assert result_values(history, best, {"loss": 1.2, "note": "x"}) == {
        "final/loss": 1.0,
        "best/loss": 1.0,
        "best/val_loss": 1.5,
        "evaluate/loss": 1.2,
    }


def test_statuses_map_to_mlflows_and_the_default_store_is_sqlite(tmp_path):
    assert STATUSES["stopped_early"] == "FINISHED" and STATUSES["interrupted"] == "KILLED"
    assert "nan" not in STATUSES  # FAILED, as any status MLflow has no word for
    assert default_uri(tmp_path) == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"


def test_a_trial_finds_its_tracked_sweep_and_nothing_else(tmp_path):
    trial = tmp_path / "sweep" / "trials" / "trial-0000"
    trial.mkdir(parents=True)
    assert sweep_of(trial) is None
    (tmp_path / "sweep" / TRACKING).write_text('{"mlflow": {"run_id": "p"}}')
    assert sweep_of(trial) == tmp_path / "sweep"
    assert read_state(tmp_path / "sweep") == {"mlflow": {"run_id": "p"}}
    (trial / TRACKING).write_text("[1, 2]")  # not a mapping: nothing
    assert read_state(trial) == {}
    said = []
    tag_trial(trial, 0, "pruned", said.append)  # no MLflow run: nothing to tag
    assert said == []


def test_fit_status_and_the_objective():
    training = SimpleNamespace(spec=SimpleNamespace(fit=SimpleNamespace(epochs=3)))
    stop = SimpleNamespace(signal_name=None)
    recorder = SimpleNamespace(nonfinite=None, history=[{}, {}])
    assert fit_status(training, recorder, stop) == RunStatus.STOPPED_EARLY
    recorder.history.append({})
    assert fit_status(training, recorder, stop) == RunStatus.COMPLETED
    history = [{"val_accuracy": 0.5}, {"val_accuracy": 0.7}, {"loss": 1.0}]
    assert objective_of(history, "val_accuracy", "max") == 0.7
    assert objective_of(history, "val_accuracy", "min") == 0.5
    assert objective_of(history, "val_auc", "max") is None


def test_the_installed_extras_say_nothing():
    assert missing_extra("tensorboard") is None and missing_extra("mlflow") is None
    assert callable(track_run) and track.name == "track"
