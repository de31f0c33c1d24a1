"""A tracked run, read back with MLflow's client and TensorBoard's own reader: every
epoch once, through a kill -9 and resume, and through a tracking store that was gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cbrun import api
from tests.conftest import ROOT, cbrun_loads_tensorflow, run_cbrun
from tests.tracking.conftest import (
    SilentServer,
    closed_port_uri,
    hparams_data,
    mlflow_client,
    recorded,
    scalars,
    steps,
)

TRACKED = """\
name: tracked
seed: 2
deterministic: true
plugins: [kill_switch]
data: {{dataset: mnist, source: bundled, limit: {{train: 384, test: 128}}, validation_split: 0.25}}
model: {{name: mlp, args: {{units: [8]}}}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.01}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 32, epochs: {epochs}, steps_per_epoch: 3}}
evaluate: {{batch_size: 64, steps: 1}}
callbacks:
  - {{name: 'kill_switch:KillSwitch', args: {{epoch: {kill}, batch: 1, marker: {marker}}}}}
tracking:
  tensorboard: true
  mlflow: {{uri: '{uri}', experiment: cbrun-tests}}
"""
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


def _config(folder: Path, uri: str, *, epochs=3, kill=-1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", folder)
    config = folder / "tracked.yaml"
    marker = folder / "killed"
    config.write_text(TRACKED.format(epochs=epochs, kill=kill, marker=marker, uri=uri))
    return config


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracked")
    uri = f"sqlite:///{folder / 'store' / 'mlflow.db'}"
    (folder / "store").mkdir()
    run = api.train(_config(folder, uri), run_dir=folder / "run", quiet=True)
    return run, uri


def test_mlflow_holds_params_every_epoch_tags_and_artifacts(tracked_run):
    import os

    run, uri = tracked_run
    client = mlflow_client(uri)
    run_id = recorded(run.run_dir)["mlflow"]["run_id"]
    assert run.summary.tracking["mlflow"]["run_id"] == run_id  # summary.json says it too
    found = client.get_run(run_id)
    assert found.info.status == "FINISHED" and found.info.run_name == run.run_dir.name
    params = found.data.params
    assert params["model.name"] == "mlp" and params["model.args.units"] == "[8]"
    assert float(params["compile.optimizer.args.learning_rate"]) == 0.01
    assert params["fit.epochs"] == "3" and "tracking.mlflow.uri" not in params
    history = run.history
    for key in METRICS:
        values = client.get_metric_history(run_id, key)
        assert [m.step for m in values] == [1, 2, 3], key
        assert [m.value for m in values] == pytest.approx([row[key] for row in history])
    assert found.data.metrics["evaluate/accuracy"] == pytest.approx(run.evaluate["accuracy"])
    tags = found.data.tags
    assert tags["cbrun.status"] == "completed"
    assert tags["cbrun.run_dir"] == str(run.run_dir.resolve())
    assert tags["cbrun.version"] == __import__("cbrun").__version__
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "summary.json", "history.csv", "model.keras"} <= artifacts
    # Artifacts beside the SQLite file, never an ./mlruns in the working folder.
    assert (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").is_dir()
    assert not (Path.cwd() / "mlruns").exists()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_tensorboard_pairs_train_and_validation_and_holds_hparams(tracked_run):
    run, _ = tracked_run
    board = run.run_dir / "tensorboard"
    history = run.history
    train, validation = scalars(board / "train"), scalars(board / "validation")
    assert sorted(train) == ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    assert sorted(validation) == ["epoch_accuracy", "epoch_loss"]
    assert [step for step, _ in train["epoch_loss"]] == [1, 2, 3]
    assert [v for _, v in validation["epoch_loss"]] == pytest.approx(
        [row["val_loss"] for row in history]
    )
    root = scalars(board)
    best = min(row["val_loss"] for row in history)
    assert root["best/val_loss"] == [(3, pytest.approx(best))]
    assert root["evaluate/loss"][0][1] == pytest.approx(run.evaluate["loss"])
    _, session = hparams_data(board)
    assert session["model.name"] == "mlp" and session["fit.batch_size"] == 32
    assert session["compile.optimizer.args.learning_rate"] == pytest.approx(0.01)


def test_kill_9_after_epoch_2_then_resume_writes_each_epoch_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow_client(uri)
    client.search_experiments()  # the store exists: the run's thread only adds to it
    config = _config(tmp_path / "w", uri, epochs=4, kill=2)  # killed in epoch 3
    run_dir = tmp_path / "run"
    killed = run_cbrun("train", config, "--run-dir", run_dir, cwd=config.parent)
    assert killed.returncode == -9
    experiment = client.get_experiment_by_name("cbrun-tests")
    before = client.search_runs([experiment.experiment_id]) if experiment else []
    assert len(before) <= 1
    # Sent from a thread: what reached MLflow before the kill is some first epochs.
    if before:
        assert steps(client, before[0].info.run_id, "loss") in ([], [1], [1, 2])
    run = api.train(None, resume=run_dir, quiet=True)
    assert run.status == "completed"
    experiment = client.get_experiment_by_name("cbrun-tests")
    (found,) = client.search_runs([experiment.experiment_id])  # one MLflow run, continued
    run_id = found.info.run_id
    assert recorded(run_dir)["mlflow"]["run_id"] == run_id
    assert not before or before[0].info.run_id == run_id
    for key in METRICS:
        assert steps(client, run_id, key) == [1, 2, 3, 4], key
    assert client.get_run(run_id).info.status == "FINISHED"
    board = run_dir / "tensorboard"
    for group in ("train", "validation"):
        for tag, values in scalars(board / group).items():
            assert [step for step, _ in values] == [1, 2, 3, 4], (group, tag)
    assert len(list(board.glob("train/events.out.tfevents.*"))) == 1  # rewritten, not added


def test_a_store_that_is_gone_never_fails_the_run_and_track_sends_it_later(tmp_path, cli):
    gone = closed_port_uri()
    config = _config(tmp_path / "w", gone)
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.exit_code == 0
    said = [line for line in result.stdout.splitlines() if line.startswith("mlflow: ")]
    assert len(said) == 1 and gone in said[0]  # said once, not once an epoch
    assert f"send the rest with: cbrun track {tmp_path / 'run'}" in result.stdout
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "completed"
    # The run goes to a store that works (issue 37: --uri), then again: nothing twice.
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    sent = cli("track", tmp_path / "run", "--uri", uri, "--json")
    assert sent.exit_code == 0, sent.output
    run_id = json.loads(sent.stdout)["mlflow"]["run_id"]
    client = mlflow_client(uri)
    assert steps(client, run_id, "val_loss") == [1, 2, 3]
    assert {"curves.png", "history.csv"} <= {a.path for a in client.list_artifacts(run_id)}
    assert recorded(tmp_path / "run")["mlflow"]["uri"] == uri  # the run now names its store
    summary = (tmp_path / "run" / "summary.json").read_text()
    held = client.get_run(run_id)
    rows = {key: len(client.get_metric_history(run_id, key)) for key in held.data.metrics}
    again = cli("track", tmp_path / "run")  # twice: nothing written twice, summaries included
    assert again.exit_code == 0 and run_id in again.stdout
    assert steps(client, run_id, "val_loss") == [1, 2, 3]
    after = client.get_run(run_id)
    assert {key: len(client.get_metric_history(run_id, key)) for key in rows} == rows
    assert after.info.end_time == held.info.end_time
    assert (tmp_path / "run" / "summary.json").read_text() == summary
    assert after.data.tags["cbrun.status"] == "completed"


def test_a_store_on_a_path_that_cannot_be_written_is_refused_before_anything(tmp_path, cli):
    store = tmp_path / "store"
    store.write_text("a file where the store's folder goes: MLflow cannot open it")
    config = _config(tmp_path / "w", f"sqlite:///{store / 'mlflow.db'}")
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: tracking.mlflow.uri: cannot write {store / 'mlflow.db'}: {store} is a file, "
        "not a folder\n"
    )
    assert not (tmp_path / "runs").exists()


def test_a_server_that_never_answers_fails_its_tracker_once_and_quietly(tmp_path, cli):
    with SilentServer() as server:
        result = cli("train", _config(tmp_path / "w", server.uri), "--run-dir", tmp_path / "run")
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "mlflow" in line.lower()]
    assert said == [f"mlflow: {server.uri}: no answer within 2 s"], result.output
    assert "send the rest with: cbrun track" in result.stdout
    assert "WARNING" not in result.output and "urllib3" not in result.output


def test_a_uri_no_store_takes_is_a_config_error(tmp_path, cli):
    config = _config(tmp_path / "w", "htp://127.0.0.1:5000")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert (
        "tracking.mlflow.uri: htp://127.0.0.1:5000: no MLflow store takes the scheme 'htp' "
        "(did you mean 'http'?)" in result.stderr
    )
    bad = cli("track", tmp_path / "w", "--uri", "htp://x")
    assert bad.exit_code == 2


def test_track_adds_a_tracker_to_an_untracked_run(train, tiny_config, cli, tmp_path):
    result, run_dir = train(tiny_config())
    refused = cli("track", run_dir)
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"Error: {run_dir}: its config has no tracking: section; name a tracker with "
        "--track tensorboard or --track mlflow\n"
    )
    sent = cli("track", run_dir, "--track", "tensorboard")
    assert sent.exit_code == 0, sent.output
    assert [s for s, _ in scalars(run_dir / "tensorboard" / "train")["epoch_loss"]] == [1, 2, 3]


def test_track_writes_tensorboard_without_tensorflow(train, tiny_config, tmp_path):
    """`cbrun track` trains nothing: its TensorBoard events are TensorBoard's own protobufs,
    so it answers without TensorFlow's import (4.6 s of its 5 s when it used tf.summary).
    A process of its own, for sys.modules."""
    _, run_dir = train(tiny_config())
    done, loaded = cbrun_loads_tensorflow("track", run_dir, "--track", "tensorboard")
    assert (done.returncode, loaded) == (0, False), done.stderr
    board = run_dir / "tensorboard"
    assert [s for s, _ in scalars(board / "train")["epoch_loss"]] == [1, 2, 3]
    assert {"final/loss", "best/loss", "evaluate/loss"} <= set(scalars(board))
    _, session = hparams_data(board)
    assert session["name"] == "tiny" and session["fit.epochs"] == 3


def test_a_finished_run_continued_with_more_epochs_continues_its_mlflow_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = _config(tmp_path / "w", uri, epochs=2)
    first = api.train(config, run_dir=tmp_path / "run", quiet=True)
    run_id = recorded(first.run_dir)["mlflow"]["run_id"]
    client = mlflow_client(uri)
    assert steps(client, run_id, "val_loss") == [1, 2]
    more = api.train(None, ["fit.epochs=4"], resume=first.run_dir, quiet=True)
    assert more.status == "completed" and recorded(more.run_dir)["mlflow"]["run_id"] == run_id
    for key in METRICS:
        assert steps(client, run_id, key) == [1, 2, 3, 4], key
    assert client.get_run(run_id).data.params["fit.epochs"] == "2"  # MLflow keeps a param
