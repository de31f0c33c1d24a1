"""The `tracking:` section, checked before TensorFlow like the rest, and the flat keys
both trackers show."""

from __future__ import annotations

import pytest

from cbrun.config.loading import load_config
from cbrun.config.tracking import flat_config, with_tracking
from cbrun.errors import ConfigError, UsageError

BASE = """\
model: {name: linear}
compile: {loss: mse}
fit: {epochs: 1}
"""


def test_mlflow_true_is_the_defaults_and_false_is_off(write_config):
    spec = load_config(write_config(BASE + "tracking: {mlflow: true, tensorboard: true}\n"))
    assert spec.tracking.mlflow.uri is None and spec.tracking.tensorboard
    assert load_config(write_config(BASE + "tracking: {mlflow: false}\n")).tracking.mlflow is None
    assert not load_config(write_config(BASE)).tracking.active


@pytest.mark.parametrize(
    "section,message",
    [
        ("tracking: {mlflow: {uri: ''}}", "4:26: tracking.mlflow.uri: String should have at least"),
        ("tracking: {mlflow: {url: x}}", "4:21: tracking.mlflow.url: unknown key"),
        ("tracking: {tensorboard: 'yes'}", "4:25: tracking.tensorboard: expected true or false"),
        ("tracking: {wandb: true}", "4:12: tracking.wandb: unknown key"),
    ],
    ids=["empty uri", "misspelt key", "a string for a switch", "an unknown tracker"],
)
def test_a_bad_tracking_section_is_one_line(section, message, write_config, cli):
    config = write_config(BASE + section + "\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: {config}:{message}")


def test_a_missing_extra_names_the_extra_to_install(write_config, cli, monkeypatch):
    import cbrun.catalog.extras

    monkeypatch.setitem(cbrun.catalog.extras.EXTRAS, "mlflow", ("mlflow_not_installed_here",))
    config = write_config(BASE + "tracking:\n  mlflow: {experiment: x}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}:5:11: tracking.mlflow: tracking.mlflow needs the mlflow extra: "
        "pip install 'cbrun[mlflow]'\n"
    )
    spec = load_config(write_config(BASE, "plain.yaml"))
    with pytest.raises(UsageError, match=r"^--track: tracking.mlflow needs the mlflow extra"):
        with_tracking(spec, ["mlflow"])


def test_a_tensorboard_callback_writing_where_tracking_writes_is_refused(write_config, cli):
    callbacks = "callbacks:\n  - {name: TensorBoard, args: {log_dir: tensorboard/keras}}\n"
    config = write_config(BASE + "tracking: {tensorboard: true}\n" + callbacks)
    result = cli("validate", config)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: {config}:6:41: callbacks[0].args.log_dir: tracking.tensorboard")
    assert "give this callback another log_dir" in line
    elsewhere = callbacks.replace("tensorboard/keras", "keras_tensorboard")
    ok = write_config(BASE + "tracking: {tensorboard: true}\n" + elsewhere, "ok.yaml")
    assert cli("validate", ok).exit_code == 0


def test_track_switches_trackers_on_and_keeps_the_configs_mlflow(write_config):
    spec = load_config(write_config(BASE + "tracking: {mlflow: {uri: 'sqlite:///x.db'}}\n"))
    spec = with_tracking(spec, ["mlflow", "tensorboard"])
    assert spec.tracking.mlflow.uri == "sqlite:///x.db" and spec.tracking.tensorboard
    with pytest.raises(UsageError, match="--track wandb: track with tensorboard or mlflow"):
        with_tracking(spec, ["wandb"])


def test_track_takes_only_the_known_trackers(cli, write_config):
    result = cli("train", write_config(BASE), "--track", "wandb")
    assert result.exit_code == 2
    assert "'wandb' is not one of 'tensorboard', 'mlflow'" in result.stderr


def test_the_flat_config_has_dotted_keys_and_json_for_lists(write_config):
    text = BASE.replace("{name: linear}", "{name: mlp, args: {units: [32, 16]}}")
    spec = load_config(write_config(text + "tracking: {tensorboard: true}\n"))
    flat = flat_config(spec.model_dump(mode="json", by_alias=True))
    assert flat["model.args.units"] == "[32, 16]" and flat["model.name"] == "mlp"
    assert flat["fit.epochs"] == 1 and flat["compile.optimizer.name"] == "rmsprop"
    assert not [key for key in flat if key.startswith(("tracking", "output", "logging"))]


def test_validate_prints_the_tracking_section_back(write_config, cli):
    config = write_config(BASE + "tracking: {mlflow: true}\n")
    printed = cli("validate", config)
    assert printed.exit_code == 0
    again = write_config(printed.stdout, "again.yaml")
    assert load_config(again).tracking == load_config(config).tracking


def test_the_api_refuses_a_tracking_section_that_is_not_a_mapping():
    from cbrun import api

    config = {"model": {"name": "linear"}, "compile": {"loss": "mse"}, "fit": {}, "tracking": 3}
    with pytest.raises(ConfigError, match="tracking"):
        api.load_config(config)
