"""Every option honoured or refused, in every mode: the table in cbrun/cli/modes.py walked.

The walk needs no TensorFlow: every option of a command with modes has a row in each of
its modes, a refused row exits 2 naming both, an honoured row names a test that exists.
The honoured rows no other test covered are tested here, with real runs.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import click
import pytest

from cbrun.cli.main import cli as group
from cbrun.cli.modes import HONOURED, MODES, REFUSED

ROOT = Path(__file__).resolve().parents[2]


def _names(command: click.Command) -> list[str]:
    """Every option (its longest name) and argument (in capitals) of `command`."""
    names = []
    for param in command.params:
        if isinstance(param, click.Argument):
            names.append(param.human_readable_name)
        elif "--help" not in param.opts:
            names.append(max(param.opts, key=len))
    return names


def _defined_tests(file: Path) -> set[str]:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_option_is_honoured_or_refused_in_every_mode():
    missing, both = [], []
    for command, modes in MODES.items():
        names = _names(group.commands[command])
        for mode in modes:
            assert mode in names, f"{command}: no option or argument {mode}"
            for option in names:
                if option == mode:
                    continue
                key = (command, mode, option)
                if key in REFUSED and key in HONOURED:
                    both.append(key)
                elif key not in REFUSED and key not in HONOURED:
                    missing.append(key)
    assert not missing, f"rows missing from cbrun/cli/modes.py: {missing}"
    assert not both, f"rows both refused and honoured: {both}"
    for command, mode, option in [*REFUSED, *HONOURED]:
        assert command in MODES and mode in MODES[command], (command, mode)
        assert option in _names(group.commands[command]), (command, option)


@pytest.mark.parametrize("key", sorted(HONOURED), ids=" ".join)
def test_each_honoured_row_names_a_test_that_exists(key):
    file, _, name = HONOURED[key].partition("::")
    assert (ROOT / file).is_file(), HONOURED[key]
    assert name in _defined_tests(ROOT / file), HONOURED[key]


# A value each option takes, so that only the combination can be what is refused.
VALUES = {
    "--set": "fit.epochs=3",
    "--storage": "sqlite:///study.db",
    "--study": "s",
    "--runs-dir": "elsewhere",
    "--run-dir": "elsewhere/run",
    "--name": "renamed",
    "--track": "tensorboard",
    "--model": "cnn",
    "--dataset": "arrays",
    "--callbacks": "EarlyStopping",
    "--resume": "some-run",
    "--example": "early_stop",
    "--log-every": "5",
}


def _given(name: str, folder: Path) -> list[str]:
    if name == "FOLDER":
        return [str(folder)]
    return [name, VALUES[name]] if name in VALUES else [name]


@pytest.mark.parametrize("key", sorted(REFUSED), ids=" ".join)
def test_each_refused_row_exits_2_naming_both_and_writes_nothing(key, tmp_path, monkeypatch):
    from click.testing import CliRunner

    command, mode, option = key
    monkeypatch.chdir(tmp_path)
    (tmp_path / "listed").mkdir()
    before = sorted(tmp_path.rglob("*"))
    args = [command, *_given(mode, tmp_path / "listed"), *_given(option, tmp_path / "listed")]
    if command == "init":
        args.insert(1, "new.yaml")
    if command == "diff":  # A and B are required
        args[1:1] = [str(tmp_path / "listed"), str(tmp_path / "listed")]
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 2, result.output
    # One line naming both (a symmetric pair may name them either way round) and why.
    line = result.stderr.splitlines()[-1]
    assert line.startswith("Error: ") and line.endswith(REFUSED[key]), result.stderr
    assert f"{option} cannot be given with {mode}" in line or (
        f"{mode} cannot be given with {option}" in line
    )
    assert sorted(tmp_path.rglob("*")) == before


# The honoured rows no other test asserted.


@pytest.fixture
def finished_run(tiny_config, cli, tmp_path):
    """A run of TINY with one epoch, completed (it continues with a larger fit.epochs)."""
    config = tiny_config(
        "fit: {batch_size: 32, epochs: 1, steps_per_epoch: 3, steps_per_execution: 1}"
    )
    run = tmp_path / "run"
    result = cli("train", config, "--run-dir", run, "--quiet")
    assert result.exit_code == 0, result.output
    return run


def test_resume_log_every_and_quiet(finished_run, cli):
    result = cli("train", "--resume", finished_run, "--set", "fit.epochs=2", "--log-every", "1")
    assert result.exit_code == 0, result.output
    steps = [line.split()[3] for line in result.stdout.splitlines() if "epoch 2/2 step" in line]
    assert steps == ["1/3", "2/3", "3/3"], result.stdout  # a line at every step
    result = cli("train", "--resume", finished_run, "--set", "fit.epochs=3", "--quiet")
    assert result.exit_code == 0, result.output
    assert "epoch 3/3" not in result.stdout and "completed" in result.stdout
    assert len((finished_run / "history.csv").read_text().splitlines()) == 4  # header + 3


def test_resume_track(finished_run, cli):
    pytest.importorskip("tensorboard")
    result = cli(
        "train", "--resume", finished_run, "--set", "fit.epochs=2", "--track", "tensorboard"
    )
    assert result.exit_code == 0, result.output
    assert any((finished_run / "tensorboard").rglob("events.out.tfevents.*"))
    assert "tensorboard: true" in (finished_run / "config.yaml").read_text()


def test_resume_allow_plugin(tiny_config, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "counter.py").write_text((ROOT / "tests/plugins/epoch_counter.py").read_text())
    config = tiny_config(
        """
        fit: {batch_size: 32, epochs: 1, steps_per_epoch: 2}
        callbacks: [{name: "counter:EpochCounter", args: {out: count.txt}}]
        """
    )
    run = tmp_path / "run"
    result = cli("train", config, "--run-dir", run, "--allow-plugin", "counter", "--quiet")
    assert result.exit_code == 0, result.output
    again = ("train", "--resume", run, "--set", "fit.epochs=2", "--allow-plugin", "counter")
    result = cli(*again)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "count.txt").read_text() == "2"  # its state carried over, then one more


def test_runs_folder_json_and_wide(finished_run, cli, tmp_path):
    listed = cli("runs", tmp_path, "--json")
    assert listed.exit_code == 0, listed.output
    assert [row["path"] for row in json.loads(listed.stdout)] == [str(finished_run)]
    narrow = cli("runs", tmp_path)
    wide = cli("runs", tmp_path, "--wide")
    assert wide.exit_code == 0
    assert max(map(len, wide.stdout.splitlines())) >= max(map(len, narrow.stdout.splitlines()))
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    trial = {"number": 0, "status": "complete", "params": {"fit.epochs": 1}, "objective": 0.5}
    state = {"objective": {"monitor": "loss", "mode": "min"}, "trials": [trial]}
    (sweep / "sweep.json").write_text(json.dumps(state))
    rows = json.loads(cli("runs", sweep, "--json").stdout)
    assert [(row["number"], row["objective"]) for row in rows] == [(0, 0.5)]
    table = cli("runs", sweep, "--wide")
    assert table.exit_code == 0 and "0.5000" in table.stdout and "complete" in table.stdout


def test_quiet_honours_every_other_option(tiny_config, cli, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "counter.py").write_text((ROOT / "tests/plugins/epoch_counter.py").read_text())
    config = tiny_config(
        """
        fit: {batch_size: 32, epochs: 3, steps_per_epoch: 2}
        callbacks: [{name: "counter:EpochCounter", args: {out: count.txt}}]
        """
    )
    run = tmp_path / "exact"
    options = ("--run-dir", run, "--name", "named", "--allow-plugin", "counter")
    result = cli(
        "train", config, "--quiet", *options, "--track", "tensorboard", "--set", "fit.epochs=2"
    )
    assert result.exit_code == 0, result.output
    assert "epoch 1/2" not in result.stdout and "named: completed" in result.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["name"], summary["epochs_run"]) == ("named", 2)
    assert (tmp_path / "count.txt").read_text() == "2"
    assert any((run / "tensorboard").rglob("events.out.tfevents.*"))
    result = cli("train", config, "--quiet", "--runs-dir", tmp_path / "many", "--set",
                 "fit.epochs=1", "--allow-plugin", "counter")  # fmt: skip
    assert result.exit_code == 0 and len(list((tmp_path / "many").iterdir())) == 1


def test_diff_all_in_json_and_markdown(finished_run, cli, tmp_path):
    other = tmp_path / "other"
    assert cli("train", "--resume", finished_run, "--set", "fit.epochs=2", "--quiet").exit_code == 0
    shutil.copytree(finished_run, other)
    changed = json.loads(cli("diff", finished_run, other, "--json").stdout)
    every = json.loads(cli("diff", finished_run, other, "--json", "--all").stdout)
    assert len(every["config"]) > len(changed["config"])
    short = cli("diff", finished_run, other, "--md").stdout
    assert len(cli("diff", finished_run, other, "--md", "--all").stdout) > len(short)
