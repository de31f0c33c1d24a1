"""The command line: help everywhere, version, a clean console, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cbrun import __version__
from cbrun.cli.main import cli as group

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = sorted(group.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, cli):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert group.commands[command].help
    for param in group.commands[command].params:
        if param.param_type_name == "option":
            assert param.help, f"{command} {param.opts} has no help"
    assert command in cli("--help").stdout


def test_version(cli):
    assert cli("--version").stdout.strip() == f"cbrun, version {__version__}"


def test_quiet_and_verbose_exclude_each_other(cli):
    result = cli("train", "configs/early_stop.yaml", "--quiet", "--verbose")
    assert result.exit_code == 2
    assert "--verbose cannot be given with --quiet" in result.stderr


def test_real_process_has_a_clean_console(tmp_path):
    """TensorFlow's start-up chatter never reaches the user; python -m cbrun works."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["NO_COLOR"] = "1"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cbrun",
            "train",
            "configs/early_stop.yaml",
            "--runs-dir",
            str(tmp_path),
            "--set",
            "data.source=bundled",
            "--set",
            "fit.epochs=2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    for noise in ("oneDNN", "cuda", "absl", "WARNING", "I0000", "E0000"):
        assert noise not in out.stdout
    assert "\x1b" not in out.stdout
    assert "early-stop: completed" in out.stdout or "early-stop: stopped_early" in out.stdout
