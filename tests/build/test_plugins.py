"""Plugins are default-deny: never imported unless allowed; allowed ones run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cbrun.build.plugins import check_allowed
from cbrun.errors import PluginError
from tests.conftest import installed_package

ROOT = Path(__file__).resolve().parents[2]

SENTINEL = """
from pathlib import Path
Path({marker!r}).write_text("imported")
import keras
class Spy(keras.callbacks.Callback):
    pass
"""


def _plugin_config(tiny_config, extra=""):
    return tiny_config("callbacks: [{name: 'sentinel_mod:Spy'}]\n" + extra)


def test_plugin_outside_allow_list_is_never_imported(tiny_config, train, tmp_path):
    marker = tmp_path / "IMPORTED"
    config = _plugin_config(tiny_config)
    (config.parent / "sentinel_mod.py").write_text(SENTINEL.format(marker=str(marker)))
    result, run = train(config)
    assert result.exit_code == 2
    # A config problem now, at its file:line (issue 22), still before anything is imported.
    assert result.stderr.strip() == (
        f"Error: {config}:27:9: callbacks[0].name: plugin 'sentinel_mod:Spy' is not allowed: "
        "list sentinel_mod under plugins: in the config, or pass --allow-plugin sentinel_mod"
    )
    assert not marker.exists() and run is None


def test_allowed_plugin_runs(tiny_config, train, tmp_path):
    marker = tmp_path / "IMPORTED"
    config = _plugin_config(tiny_config)
    (config.parent / "sentinel_mod.py").write_text(SENTINEL.format(marker=str(marker)))
    result, run = train(config, "--allow-plugin", "sentinel_mod")
    assert result.exit_code == 0, result.output
    assert marker.exists()


def _train_the_example_plugin(cli, tmp_path, *extra):
    """`cbrun train` of examples/plugin/epoch_timer.yaml, copied into tmp_path, on the sample."""
    shutil.copytree(ROOT / "examples" / "plugin", tmp_path / "plugin")
    config = tmp_path / "plugin" / "epoch_timer.yaml"
    runs = tmp_path / "runs"
    return cli("train", config, "--runs-dir", runs, "--set", "data.source=bundled", *extra)


def test_example_plugin_hooks_fire(cli, tmp_path):
    result = _train_the_example_plugin(cli, tmp_path)
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    log = (run / "train.log").read_text()
    assert "took 0 took" in log and "took 1 took" in log
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


@pytest.mark.parametrize(
    "name", ["os:system", "subprocess:call", "builtins.eval", "logging.os.system", "os.path:join"]
)
def test_dangerous_targets_are_refused_even_when_listed(name):
    with pytest.raises(PluginError, match="is never allowed"):
        check_allowed(name, {"os", "subprocess", "builtins", "logging", "os.path"})


def test_python_tag_never_runs(write_config, cli, tmp_path):
    marker = tmp_path / "PWNED"
    config = write_config(
        f"name: !!python/object/apply:os.system ['touch {marker}']\n"
        "model: {name: linear}\ncompile: {loss: mse}\nfit: {epochs: 1}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert (
        result.exit_code == 2 and "unsupported tag !!python/object/apply:os.system" in result.stderr
    )
    assert not marker.exists()


def test_installed_entry_point_plugin_is_listed_and_runs(
    tiny_config, train, tmp_path, monkeypatch, cli
):
    """A package exposing `cbrun.callbacks` entry points needs no allow-list entry."""
    site = tmp_path / "site"
    installed_package(
        site,
        "installed_cb",
        "cbrun.callbacks",
        {"InstalledTimer": "installed_cb:InstalledTimer"},
        "import keras\n"
        "class InstalledTimer(keras.callbacks.Callback):\n"
        "    def on_train_end(self, logs=None):\n"
        "        import pathlib\n"
        f"        pathlib.Path({str(tmp_path / 'RAN')!r}).write_text('ran')\n",
    )
    monkeypatch.syspath_prepend(str(site))
    listing = cli("list-callbacks", "--json")
    entry = next(e for e in json.loads(listing.stdout) if e["name"] == "InstalledTimer")
    assert entry["origin"] == "plugin" and entry["target"] == "installed_cb:InstalledTimer"
    result, run = train(tiny_config("callbacks: [InstalledTimer]\n"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "RAN").read_text() == "ran"


def test_symlink_out_of_the_run_directory_is_refused(tmp_path):
    from cbrun.errors import RunDirError
    from cbrun.output.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    (run.path / "logs").symlink_to(tmp_path)
    with pytest.raises(RunDirError, match="'logs/x.csv' leaves the run directory"):
        run.inside("logs/x.csv")
    assert run.inside("fine/x.csv") == run.path / "fine" / "x.csv"


def test_registered_plugin_arguments_are_checked(cli, tmp_path):
    result = _train_the_example_plugin(cli, tmp_path, "--set", "callbacks.0.args={lable: x}")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: callbacks[0].args.lable: unknown argument of EpochTimer (did you mean 'label'?)"
    )
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
