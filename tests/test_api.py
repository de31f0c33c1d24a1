"""cbrun from Python: the CLI's runs as calls, with no process-wide state left behind."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import yaml

import cbrun
from tests.conftest import CONFIGS, TINY, run_cbrun

DETERMINISTIC = yaml.safe_load(TINY) | {"deterministic": True, "name": "api"}


def _csv(run_dir):
    return (run_dir / "history.csv").read_text()


def test_two_calls_in_one_process_match_the_command_line(tmp_path):
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    first = cbrun.train(DETERMINISTIC, run_dir=tmp_path / "first", quiet=True)
    second = cbrun.train(dict(DETERMINISTIC), run_dir=tmp_path / "second", quiet=True)
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # none left installed
    config = tmp_path / "api.yaml"
    config.write_text(yaml.safe_dump(DETERMINISTIC))
    cli = run_cbrun("train", config, "--run-dir", tmp_path / "cli", "--quiet")
    assert cli.returncode == 0, cli.stderr
    assert _csv(first.run_dir) == _csv(second.run_dir) == _csv(tmp_path / "cli")

    assert (first.status, first.exit_code) == ("completed", 0)
    assert [row["epoch"] for row in first.history] == [1, 2, 3]
    assert set(first.evaluate) == {"loss", "mae"} and first.summary.epochs_run == 3
    model = first.load_model()
    assert model.output.shape == (None, 1)
    items = cbrun.predict(first.run_dir, count=3)
    assert [item["index"] for item in items] == [0, 1, 2]
    outputs = cbrun.predict(first.run_dir, np.zeros((2, 784), "float32"))
    assert outputs.shape == (2, 1)
    assert set(cbrun.evaluate(first.run_dir)) == {"loss", "mae"}


def test_a_config_error_is_the_clis_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(TINY.replace("loss: mean_squared_error", "loss: mean_squared_eror"))
    with pytest.raises(cbrun.ConfigError) as raised:
        cbrun.train(config, runs_dir=tmp_path / "runs")
    cli = run_cbrun("validate", config)
    assert cli.returncode == 2
    assert cli.stderr == f"Error: {raised.value}\n"
    assert str(raised.value).startswith(f"{config}:8:9: compile.loss: unknown loss")
    assert not (tmp_path / "runs").exists()


def test_a_dict_config_is_placed_as_dict_and_overrides_apply():
    with pytest.raises(cbrun.ConfigError) as raised:
        cbrun.load_config(DETERMINISTIC, ["fit.epochs=0"])
    assert str(raised.value) == "--set fit.epochs=0: fit.epochs: must be > 0, got 0"
    broken = dict(DETERMINISTIC, fit={"epochz": 1})
    with pytest.raises(cbrun.ConfigError, match=r"^<dict>: fit.epochz: unknown key"):
        cbrun.load_config(broken)
    assert cbrun.load_config(DETERMINISTIC, ["fit.epochs=5"]).fit.epochs == 5


def test_list_callbacks_is_the_catalog():
    names = [entry["name"] for entry in cbrun.list_callbacks()]
    assert "EarlyStopping" in names and "ScheduledLearningRate" in names


def test_the_package_exposes_the_api_module_s_functions():
    from cbrun import api

    assert (cbrun.train, cbrun.evaluate, cbrun.load_config) == (
        api.train,
        api.evaluate,
        api.load_config,
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cbrun.train(123), "config: expected a path (a str or pathlib.Path), got 123"),
        (lambda: cbrun.load_config(3.5), "config: expected a path"),
        (lambda: cbrun.load_config(["a.yaml"]), "config: expected a path"),
        (lambda: cbrun.load_config(""), "config: expected a path"),
        (
            lambda: cbrun.train(CONFIGS / "mnist_mlp.yaml", "fit.epochs=1"),
            "overrides: give a list of KEY=VALUE strings, e.g. ['fit.epochs=1']",
        ),
        (lambda: cbrun.load_config(CONFIGS / "mnist_mlp.yaml", [1]), "each is a KEY=VALUE string"),
        (lambda: cbrun.load_config(CONFIGS / "mnist_mlp.yaml", 5), "expected a list of KEY=VALUE"),
        (lambda: cbrun.train({}), "missing required section 'model'"),
        (lambda: cbrun.train(CONFIGS / "mnist_mlp.yaml", log_every=0), "log_every: expected a"),
        (lambda: cbrun.train(CONFIGS / "mnist_mlp.yaml", log_every=True), "log_every"),
        (lambda: cbrun.evaluate(42), "run_dir: expected a path"),
        (lambda: cbrun.predict("runs/x", count=-5), "count: expected a whole number from 1 to"),
        (lambda: cbrun.train(None, resume=7), "resume: expected a path"),
    ],
)
def test_a_wrong_api_call_is_a_cbrun_error_never_a_type_error(call, message):
    with pytest.raises(cbrun.CbrunError) as caught:  # before anything trains or is written
        call()
    assert message in str(caught.value)
