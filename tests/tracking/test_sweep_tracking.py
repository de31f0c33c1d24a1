"""A tracked sweep: the HParams experiment at its root with each trial a session, and
an MLflow parent run with one nested run per trial; the study for optuna-dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import in_a_fresh_interpreter
from tests.sweep.test_study import _config
from tests.tracking.conftest import (
    closed_port_uri,
    hparams_data,
    mlflow_client,
    recorded,
    scalars,
)

SPACE = ["model.args.units", "compile.optimizer.args.learning_rate"]


@pytest.fixture(scope="module")
def tracked_sweep(tmp_path_factory):
    from click.testing import CliRunner

    from cbrun.cli.main import cli

    folder = tmp_path_factory.mktemp("sweep")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    extra = f"tracking: {{mlflow: {{uri: '{uri}', experiment: swept}}}}"
    args = ["sweep", str(_config(folder, trials=3, extra=extra)), "--track", "tensorboard",
            "--jobs", "1", "--runs-dir", str(folder / "runs")]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (sweep,) = (folder / "runs").iterdir()
    return sweep, uri, result


def test_the_sweep_root_holds_the_hparams_experiment_and_each_trial_a_session(tracked_sweep):
    sweep, _, _ = tracked_sweep
    experiment, _ = hparams_data(sweep)
    assert [h.name for h in experiment.hparam_infos] == SPACE
    units = experiment.hparam_infos[0].domain_discrete.values
    assert sorted(v.string_value for v in units) == ["[16]", "[8]"]  # as JSON text
    rate = experiment.hparam_infos[1].domain_interval
    assert (rate.min_value, rate.max_value) == (1.0e-4, 1.0e-2)
    metrics = [(m.name.group, m.name.tag) for m in experiment.metric_infos]
    assert metrics == [("", "best/val_accuracy"), ("validation", "epoch_accuracy")]
    state = json.loads((sweep / "sweep.json").read_text())
    for trial in state["trials"]:
        board = sweep / "trials" / f"trial-{trial['number']:04d}" / "tensorboard"
        _, session = hparams_data(board)
        assert session["model.args.units"] == json.dumps(trial["params"]["model.args.units"])
        learning_rate = trial["params"]["compile.optimizer.args.learning_rate"]
        assert session["compile.optimizer.args.learning_rate"] == pytest.approx(learning_rate)
        (best,) = scalars(board)["best/val_accuracy"]
        assert best[1] == pytest.approx(trial["objective"])


def test_mlflow_has_a_parent_run_with_one_nested_run_per_trial(tracked_sweep):
    sweep, uri, _ = tracked_sweep
    client = mlflow_client(uri)
    parent_id = recorded(sweep)["mlflow"]["run_id"]
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent.info.run_name == sweep.name
    state = json.loads((sweep / "sweep.json").read_text())
    best = state["best"]
    assert parent.data.metrics["best/val_accuracy"] == pytest.approx(best["objective"])
    assert {"sweep.json", "best.yaml"} <= {a.path for a in client.list_artifacts(parent_id)}
    experiment = client.get_experiment_by_name("swept")
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert sorted(r.info.run_name for r in children) == ["trial-0000", "trial-0001", "trial-0002"]
    for child in children:
        assert child.data.tags["cbrun.trial_state"] == "complete"
        assert child.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(child.info.run_id, "loss")] == [1, 2]


def test_the_study_carries_each_trials_folder_and_status_for_optuna_dashboard(tracked_sweep):
    import optuna

    sweep, _, _ = tracked_sweep
    study = optuna.load_study(study_name="sw", storage=f"sqlite:///{sweep / 'study.db'}")
    for trial in study.get_trials():
        assert trial.user_attrs["status"] == "completed"
        assert Path(trial.user_attrs["run_dir"]).resolve().parent == (sweep / "trials").resolve()


def test_a_failing_store_tags_nothing_and_fails_no_trial(tmp_path, cli):
    extra = f"tracking: {{mlflow: {{uri: '{closed_port_uri()}'}}}}"
    result = cli("sweep", _config(tmp_path, trials=1, extra=extra), "--jobs", 1,
                 "--runs-dir", tmp_path / "runs")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 of 1 trials finished" in result.stdout
    assert "the trials are tracked without a parent" in result.stdout


def test_track_on_a_resumed_sweep_is_refused(cli, tmp_path):
    result = cli("sweep", "--resume", tmp_path, "--track", "mlflow")
    assert result.exit_code == 2
    assert "--track cannot be given with --resume: a resumed sweep tracks as it began" in (
        result.stderr
    )


def test_the_experiment_is_written_without_tensorflow(tmp_path):
    """The sweep's parent trains nothing: its HParams experiment must not load TensorFlow
    (about 5 s before the workers could start). A process of its own, for sys.modules."""
    code = (
        "import sys, pathlib\n"
        "from cbrun.tracking.tensorboard import write_experiment\n"
        "space = {'model.args.units': {'choice': [[8], [16]]},\n"
        "         'compile.optimizer.args.learning_rate': {'log_uniform': [1.0e-4, 1.0e-2]}}\n"
        "write_experiment(pathlib.Path(sys.argv[1]), space, 'val_accuracy')\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was loaded'\n"
    )
    done = in_a_fresh_interpreter(code, tmp_path)
    assert done.returncode == 0, done.stderr
    experiment, _ = hparams_data(tmp_path)
    assert [h.name for h in experiment.hparam_infos] == SPACE
    metrics = [(m.name.group, m.name.tag) for m in experiment.metric_infos]
    assert metrics == [("", "best/val_accuracy"), ("validation", "epoch_accuracy")]
