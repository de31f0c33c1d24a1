"""`cbrun validate` prints a config that `cbrun train` takes back: same config, same run;
shorthands are taken wherever a mapping has one obvious key."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import cbrun
from cbrun.config.loading import load_config
from cbrun.errors import ConfigError
from tests.conftest import CONFIGS, ROOT

SHIPPED = sorted(CONFIGS.glob("*.yaml")) + sorted((ROOT / "examples").glob("*/*.yaml"))


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.name)
def test_validate_prints_a_config_that_loads_back_the_same(config, tmp_path):
    overrides = []
    if config.name == "own_data.yaml":  # its arrays are written by the example's script
        data = tmp_path / "digits5.npz"
        script = ROOT / "examples" / "own_data" / "make_data.py"
        subprocess.run([sys.executable, script, data], check=True, capture_output=True)
        overrides = [f"data.path={data}"]
    if config.name == "own_images.yaml":  # so are its images
        folder = tmp_path / "digits"
        script = ROOT / "examples" / "own_images" / "make_images.py"
        subprocess.run([sys.executable, script, folder], check=True, capture_output=True)
        overrides = [f"data.path={folder}", f"data.cache={tmp_path / 'cache'}"]
    printed = load_config(config, overrides).to_yaml()
    again = tmp_path / config.name
    again.write_text(printed)
    assert load_config(again).to_yaml() == printed
    assert ": null\n      log_uniform" not in printed and "uniform: null" not in printed


def _history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def test_the_printed_config_trains_to_the_same_history(tmp_path):
    short = ["data.source=bundled", "fit.epochs=2", "fit.steps_per_epoch=3", "deterministic=true"]
    config = CONFIGS / "mnist_mlp.yaml"
    printed = tmp_path / "printed.yaml"
    printed.write_text(load_config(config, short).to_yaml())
    first = cbrun.train(config, short, runs_dir=tmp_path / "a", quiet=True)
    second = cbrun.train(printed, runs_dir=tmp_path / "b", quiet=True)
    assert _history(first.run_dir) == _history(second.run_dir)


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("model: mlp", {"name": "mlp"}),
        ("data: fashion_mnist", {"dataset": "fashion_mnist"}),
        ("pruner: none", {"type": "none"}),
        ("pruner: median", {"type": "median"}),
    ],
)
def test_a_shorthand_is_its_long_form(short, long, write_config):
    key = short.split(":")[0]
    text = (
        "model: {name: mlp}\ncompile: {optimizer: adam, loss: sparse_categorical_crossentropy}\n"
        "fit: {epochs: 1}\n"
        "sweep:\n  objective: {monitor: loss, mode: min}\n"
        "  space: {fit.batch_size: {int: [16, 64]}}\n"
    )
    if key == "pruner":
        text += f"  {short}\n"
    else:
        text = text.replace("model: {name: mlp}\n", "") + short + "\n"
        if key == "data":
            text += "model: {name: mlp}\n"
    spec = load_config(write_config(text))
    section = spec.sweep.pruner if key == "pruner" else getattr(spec, key)
    for name, value in long.items():
        assert getattr(section, name) == value


@pytest.mark.parametrize(
    ("pruner", "message"),
    [
        ("threshold", "a threshold pruner needs lower, upper or both"),
        ("{type: threshold, lower: 2.0, upper: 1.0}", "lower must be below upper; got 2.0 and 1.0"),
    ],
)
def test_a_threshold_pruner_needs_a_bound_that_can_be_met(pruner, message, write_config):
    path = write_config(
        "model: {name: mlp}\ncompile: {loss: mean_squared_error}\nfit: {epochs: 1}\n"
        f"sweep:\n  objective: {{monitor: loss, mode: min}}\n  pruner: {pruner}\n"
        "  space: {fit.batch_size: {int: [16, 64]}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.path == "sweep.pruner" and message in problem.message


def test_a_refused_shorthand_says_the_forms_accepted(write_config):
    path = write_config(
        "model: {name: mlp}\ncompile: {loss: mean_squared_error}\nfit: {epochs: 1}\n"
        "sweep:\n  objective: {monitor: loss, mode: min}\n  pruner: meddian\n"
        "  space: {fit.batch_size: {int: [16, 64]}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).endswith(
        "sweep.pruner.type: must be one of median, threshold, none; got 'meddian' "
        "(did you mean 'median'?)"
    )
