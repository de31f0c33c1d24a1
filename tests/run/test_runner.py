"""End to end: `cbrun train` on a small slice, checking the run directory's contents."""

from __future__ import annotations

import csv
import json
import re

import pytest

from tests.conftest import FULL_MNIST, needs_full_mnist

SUMMARY_KEYS = {"status", "name", "epochs_run", "train", "evaluate", "data", "seconds", "versions"}


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def test_train_writes_the_whole_run_directory(tiny_config, train):
    result, run = train(tiny_config())
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in run.iterdir()) == [
        "backup",  # the last checkpoint, kept so that the run can be continued
        "config.yaml",
        "history.csv",
        "model.keras",
        "summary.json",
        "train.log",
    ]
    summary = json.loads((run / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["status"] == "completed" and summary["epochs_run"] == 3
    assert summary["data"]["source"] == "bundled" and summary["data"]["train_samples"] == 640
    assert len(summary["data"]["sha256"]) == 64
    assert set(summary["versions"]) == {"cbrun", "tensorflow", "keras", "python"}
    assert len(summary["seconds"]["epochs"]) == 3
    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]  # as the console counts
    assert list(rows[0]) == ["epoch", "learning_rate", "loss", "mae"]
    assert float(rows[-1]["loss"]) == pytest.approx(summary["train"]["loss"])
    log = (run / "train.log").read_text()
    assert "data: mnist from the sample bundled with cbrun" in log
    assert log.count("epoch ") >= 3 and "\x1b" not in log
    assert "source: bundled" in (run / "config.yaml").read_text()


def test_saved_model_reproduces_the_evaluate_loss(tiny_config, train):
    import keras

    from cbrun.data.datasets import load_dataset

    result, run = train(tiny_config())
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    data = load_dataset("mnist", "bundled", limit_train=640, limit_test=256)
    again = model.evaluate(
        data.inputs(data.x_test), data.y_test, batch_size=64, steps=2, verbose=0, return_dict=True
    )
    assert again["loss"] == pytest.approx(summary["evaluate"]["loss"], rel=1e-5)


def test_same_seed_same_result(tiny_config, train):
    first, run1 = train(tiny_config())
    second, run2 = train(tiny_config())
    assert first.exit_code == second.exit_code == 0
    loss1 = json.loads((run1 / "summary.json").read_text())["train"]["loss"]
    loss2 = json.loads((run2 / "summary.json").read_text())["train"]["loss"]
    assert run1 != run2  # two runs in the same second get distinct folders
    assert loss1 == pytest.approx(loss2, rel=1e-6)


def test_overrides_land_in_config_yaml(tiny_config, train):
    result, run = train(tiny_config(), "--set", "fit.epochs=2", "--name", "renamed")
    assert result.exit_code == 0, result.output
    assert run.name.startswith("renamed-")
    assert "epochs: 2" in (run / "config.yaml").read_text()
    assert len(_history(run)) == 2


def test_run_dir_option_and_existing_folder(tiny_config, cli, tmp_path):
    target = tmp_path / "exact"
    assert cli("train", tiny_config(), "--run-dir", target).exit_code == 0
    assert (target / "model.keras").is_file()
    again = cli("train", tiny_config(), "--run-dir", target)
    assert again.exit_code == 2
    assert again.stderr.startswith(f"Error: {target} already exists")


def test_file_where_runs_folder_should_be(tiny_config, cli, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = cli("train", tiny_config(), "--runs-dir", blocker / "runs")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: --runs-dir: cannot write {blocker / 'runs'}: {blocker} is a file, not a folder"
    )


def test_cnn_and_sequential_models_train(tiny_config, train):
    cnn = tiny_config("""
        model: {name: cnn, args: {filters: [4], dense: 8}}
        compile: {loss: sparse_categorical_crossentropy, metrics: [accuracy]}
        data: {dataset: mnist, source: bundled, flatten: false, limit: {train: 128, test: 64}}
        fit: {batch_size: 32, epochs: 1, steps_per_epoch: 2}
    """)
    result, run = train(cnn)
    assert result.exit_code == 0, result.output
    seq = tiny_config("""
        model:
          name: sequential
          args:
            layers:
              - {name: Dense, args: {units: 16, activation: relu}}
              - {name: Dense, args: {units: 10, activation: softmax}}
        compile: {loss: sparse_categorical_crossentropy, metrics: [accuracy]}
        fit: {batch_size: 32, epochs: 1, steps_per_epoch: 2}
    """)
    result, run = train(seq)
    assert result.exit_code == 0, result.output
    assert "accuracy" in json.loads((run / "summary.json").read_text())["evaluate"]


def test_lambda_layer_and_unknown_layer_are_refused_and_leave_nothing(tiny_config, train, tmp_path):
    config = tiny_config("""
        model: {name: sequential, args: {layers: [Lambda]}}
    """)
    result, run = train(config)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {config}:13:7: model.args.layers[0]: Lambda layers hold Python code and are "
        "refused"
    )
    assert run is None
    result, run = train(tiny_config("model: {name: sequential, args: {layers: [Dense2]}}\n"))
    assert result.exit_code == 2 and "unknown Keras layer 'Dense2'" in result.stderr
    assert run is None


@needs_full_mnist
def test_full_mnist_path_source(tiny_config, train):
    result, run = train(
        tiny_config(),
        "--set",
        "data.source=path",
        "--set",
        f"data.path={FULL_MNIST}",
        "--set",
        "data.limit.train=null",
        "--set",
        "fit.epochs=1",
    )
    assert result.exit_code == 0, result.output
    data = json.loads((run / "summary.json").read_text())["data"]
    assert data["source"] == "path" and data["train_samples"] == 60000
    assert data["sha256"] == "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


def test_nan_loss_stops_with_exit_3(tiny_config, train):
    config = tiny_config("""
        compile:
          optimizer: {name: sgd, args: {learning_rate: 1.0e+30}}
          loss: mean_squared_error
        fit: {batch_size: 32, epochs: 3, steps_per_epoch: 5}
    """)
    result, run = train(config)
    assert result.exit_code == 3, result.output
    assert "loss became" in result.stderr
    # NaN in the first epoch: nothing to resume, so no run folder is left (issue 37).
    assert "no epoch finished, so the run folder is removed" in result.stderr
    assert run is None


def test_tensorflow_refusing_the_model_and_loss_is_one_line_and_leaves_nothing(
    tiny_config, train, tmp_path
):
    # Four outputs behind an Activation layer (the config cannot tell the count): the
    # labels 0-9 are out of range, which only TensorFlow sees, in the first step.
    config = tiny_config("""
        model:
          name: sequential
          args:
            layers:
              - {name: Dense, args: {units: 4}}
              - {name: Activation, args: {activation: softmax}}
        compile: {optimizer: adam, loss: sparse_categorical_crossentropy}
    """)
    result, run = train(config)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(
        r"Error: TensorFlow refused the config's data, model or loss: Received a label value of "
        r"\d which is outside the valid range of \[0, 4\)\.  Label values: [\d ]+ \(nothing was "
        r"trained and the run folder is removed; --verbose prints the traceback\)",
        lines[0],
    ), lines[0]
    assert run is None


def test_no_trace_of_the_tf2_api():
    """cbrun's own code, examples and test plugins pass its own Keras 3 migration check."""
    from pathlib import Path

    from cbrun.migrate.checker import check_file

    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("cbrun/**/*.py"), *root.glob("examples/**/*.py")]
    sources += root.glob("tests/plugins/*.py")
    assert len(sources) > 30
    # Notes (stop_training in a batch hook: the NaN stop) are known and accepted.
    findings = [str(f) for path in sources for f in check_file(path) if f.severity == "error"]
    assert findings == []


def test_the_runner_called_directly_returns_what_it_wrote(tiny_config, tmp_path):
    import io

    from rich.console import Console

    from cbrun.config.loading import load_config
    from cbrun.output.logsink import LogSink
    from cbrun.output.summary import RunStatus
    from cbrun.run.runner import train as run_training

    sink = LogSink(Console(file=io.StringIO(), width=100))
    result = run_training(load_config(tiny_config()), sink=sink, run_dir=tmp_path / "direct")
    assert (result.status, result.exit_code) == (RunStatus.COMPLETED, 0)
    written = json.loads((result.run_dir / "summary.json").read_text())
    assert written["epochs_run"] == result.summary.epochs_run == 3


NOISY = """
import warnings

import keras


class Noisy(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        print(f"noisy says epoch {epoch + 1}")
        if epoch == 0:
            with warnings.catch_warnings():  # the suite turns warnings into errors
                warnings.simplefilter("always")
                warnings.warn("noisy is noisy", UserWarning, stacklevel=1)
"""


def test_a_plugins_print_and_warning_reach_the_console_and_train_log(tiny_config, train, tmp_path):
    (tmp_path / "noisy.py").write_text(NOISY)
    config = tiny_config("plugins: [noisy]\ncallbacks: [{name: 'noisy:Noisy'}]\n")
    result, run = train(config)
    assert result.exit_code == 0, result.output
    log = (run / "train.log").read_text()
    said = ("noisy says epoch 1", "noisy says epoch 3", "warning: UserWarning: noisy is noisy")
    for text in said:
        assert result.stdout.count(text) == 1, result.stdout
        assert log.count(text) == 1, log
    # The sink's own lines are not logged twice by the capture.
    assert log.count("epoch 2/3  ") == 1
    # The summary table the console showed is in the log as well.
    assert "best loss" in log and "best loss" in result.stdout


def test_a_cnn_on_mnist_trains_without_data_flatten_set(tiny_config, train):
    """`data.flatten: auto` keeps MNIST as 28x28x1 images for a cnn (it was an error
    after TensorFlow had loaded, with flatten defaulting to true)."""
    cnn = tiny_config("""
        model: {name: cnn, args: {filters: [4], dense: 8}}
        compile: {loss: sparse_categorical_crossentropy, metrics: [accuracy]}
        data: {dataset: mnist, source: bundled, limit: {train: 128, test: 64}}
        fit: {batch_size: 32, epochs: 1, steps_per_epoch: 2}
    """)
    result, run = train(cnn)
    assert result.exit_code == 0, result.output
    assert "flatten: false" in (run / "config.yaml").read_text()  # the decision, recorded
