"""evaluate, predict, runs, plot and trace, from a run directory alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import TINY

CLASSIFIER = """
model: {name: mlp, args: {units: [16]}}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}
fit: {batch_size: 32, epochs: 2, steps_per_epoch: 3}
data: {dataset: mnist, source: bundled, limit: {train: 640, test: 256}, validation_split: 0.25}
"""


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    """One real training run for the whole module (a classifier on the bundled sample)."""
    from click.testing import CliRunner

    from cbrun.cli.main import cli

    folder = tmp_path_factory.mktemp("trained")
    config = yaml.safe_load(TINY)
    config.update(yaml.safe_load(CLASSIFIER + "callbacks: [LossAndErrorPrinting]\n"))
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["train", str(folder / "config.yaml"), "--run-dir", str(folder / "run")]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder / "run"


@pytest.fixture
def finished_run(trained_once, tmp_path):
    """A copy of the module's finished run, this test's own to read or to break."""
    return Path(shutil.copytree(trained_once, tmp_path / "runs" / trained_once.name))


def test_evaluate_reproduces_the_summary_and_fires_evaluate_callbacks(finished_run, cli):
    summary = json.loads((finished_run / "summary.json").read_text())
    result = cli("evaluate", finished_run, "--json")
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["loss"] == pytest.approx(summary["evaluate"]["loss"], rel=1e-5)
    assert again["accuracy"] == pytest.approx(summary["evaluate"]["accuracy"])
    written = json.loads((finished_run / "evaluate.json").read_text())
    assert written["evaluate"] == again
    shown = cli("evaluate", finished_run)
    assert shown.stdout.count("For batch") == 2  # LossAndErrorPrinting's test-batch hook
    assert "accuracy" in shown.stdout


def test_evaluate_a_model_file_against_a_config(finished_run, cli, tiny_config):
    config = tiny_config(CLASSIFIER)
    result = cli("evaluate", config, "--model", finished_run / "model.keras", "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == {"loss", "accuracy"}
    missing = cli("evaluate", config)
    assert missing.exit_code == 2
    assert "give the model to evaluate with --model" in missing.stderr


def test_predict_json(finished_run, cli):
    result = cli("predict", finished_run, "--count", 5, "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) == 5
    for item in items:
        assert 0 <= item["label"] <= 9 and 0 <= item["prediction"] <= 9
        assert sum(item["probabilities"]) == pytest.approx(1.0, abs=1e-5)
        assert item["confidence"] == pytest.approx(max(item["probabilities"]))


def test_runs_lists_exactly_the_test_runs_newest_first(tiny_config, train, cli, tmp_path):
    made = []
    for epochs in (1, 2):
        result, run = train(
            tiny_config(f"fit: {{batch_size: 32, epochs: {epochs}, steps_per_epoch: 2}}\n")
        )
        made.append(run)
    # An unfinished run (status running, its process gone) and a folder that is no run.
    summary = json.loads((made[0] / "summary.json").read_text())
    summary.update(status="running", pid=2**22 + 12345, started="1999-01-01T00:00:00")
    (made[0] / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "runs" / "not-a-run").mkdir()
    result = cli("runs", "--runs-dir", tmp_path / "runs", "--json")
    rows = json.loads(result.stdout)
    assert [row["path"] for row in rows] == [str(made[1]), str(made[0])]
    assert [row["status"] for row in rows] == ["completed", "unfinished"]
    assert rows[0]["epochs"] == 2 and "loss" in rows[0]["best"]
    table = cli("runs", "--runs-dir", tmp_path / "runs")
    assert made[1].name in table.stdout and "unfinished" in table.stdout


def test_plot_writes_a_real_png(finished_run, cli, tmp_path):
    out = tmp_path / "curves.png"
    result = cli("plot", finished_run, finished_run, "-o", out)
    assert result.exit_code == 0, result.output
    import matplotlib.image

    pixels = matplotlib.image.imread(out)
    assert pixels.shape[:2] == (360, 1260)  # 3 panels (loss, accuracy, lr) at 4.2x3.6 in, 100 dpi
    assert float(np.var(pixels[..., :3])) > 0.005


def test_trace_records_kerass_exact_hook_order(cli, tiny_config, tmp_path):
    config = tiny_config("""
        fit: {batch_size: 32, epochs: 2, steps_per_epoch: 3}
        data: {dataset: mnist, source: bundled, limit: {train: 512, test: 64},
               validation_split: 0.125}
        evaluate: {batch_size: 32, steps: 2}
    """)
    result = cli("trace", config, "--batches", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    events = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    hooks = [e["hook"].removeprefix("on_") for e in events]
    validation = ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 2 + ["test_end"]
    epoch = (
        ["epoch_begin"] + ["train_batch_begin", "train_batch_end"] * 3 + validation + ["epoch_end"]
    )
    evaluate = ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 2 + ["test_end"]
    predict = ["predict_begin", "predict_batch_begin", "predict_batch_end", "predict_end"]
    assert hooks == ["train_begin", *epoch, *epoch, "train_end", *evaluate, *predict]
    times = [e["t"] for e in events]
    assert times == sorted(times)
    assert "time in callbacks, per hook" in result.stdout


def test_trace_without_batches_records_no_batch_hooks(cli, tiny_config, tmp_path):
    result = cli("trace", tiny_config(), "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    hooks = {json.loads(line)["hook"] for line in (run / "trace.jsonl").read_text().splitlines()}
    assert not any("batch" in hook for hook in hooks)
    assert {"on_train_begin", "on_epoch_end", "on_test_end", "on_predict_end"} <= hooks


@pytest.mark.parametrize("command", [["evaluate"], ["predict"], ["plot"], ["train", "--resume"]])
def test_bad_run_directories(command, cli, tmp_path, finished_run):
    missing = tmp_path / "nowhere"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for folder, message in [
        (missing, f"{missing}: no such run directory"),
        (foreign, f"{foreign}: not a cbrun run directory (no config.yaml and summary.json)"),
    ]:
        result = cli(*command, folder)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == f"Error: {message}"
    if command[0] in ("evaluate", "predict"):
        (finished_run / "model.keras").unlink()
        summary = json.loads((finished_run / "summary.json").read_text())
        summary["status"] = "running"
        (finished_run / "summary.json").write_text(json.dumps(summary))
        result = cli(*command, finished_run)
        assert result.exit_code == 2
        assert result.stderr.strip() == (
            f"Error: {finished_run}: the run has no model.keras (status: running)"
        )


def test_evaluate_refuses_lambda_models_and_h5(finished_run, cli, tmp_path):
    import keras

    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Lambda(lambda x: x * 2.0),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy")
    path = tmp_path / "lambda.keras"
    model.save(path)
    result = cli("evaluate", finished_run, "--model", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {path}: the model holds a Lambda layer (Python code); refused in safe mode"
    )
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n")
    result = cli("evaluate", finished_run, "--model", h5)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {h5}: only .keras models are loaded (safe mode); not '.h5'"
    )


def test_a_truncated_model_is_said_to_be_damaged_not_missing(tmp_path):
    from cbrun.after.inference import load_model
    from cbrun.errors import UsageError

    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 only the start of a zip")
    with pytest.raises(UsageError, match=r"not a readable \.keras file \(truncated or damaged"):
        load_model(path)
