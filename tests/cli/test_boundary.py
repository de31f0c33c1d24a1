"""The one error boundary (cbrun/cli/boundary.py): what reaches the user for each kind of
failure, through the real click group."""

from __future__ import annotations

import errno
import os

import click
import pytest
from click.testing import CliRunner

from cbrun.cli import boundary
from cbrun.cli.main import CbrunGroup
from cbrun.errors import ConfigError, Problem, UsageError
from cbrun.output.crashes import crash_folder, write_crash_log


def _group_raising(error: BaseException) -> click.Group:
    @click.group(cls=CbrunGroup)
    def group():
        pass

    @group.command()
    @click.option("--verbose", is_flag=True)
    def fail(verbose):
        raise error

    return group


def _invoke(error, *extra, monkeypatch=None):
    return CliRunner().invoke(_group_raising(error), ["fail", *extra])


def test_a_usage_error_is_its_lines_and_exit_2():
    problems = [Problem("a.yaml:3:5", "fit.epochs", "must be > 0"), Problem("a.yaml:4:1", "", "x")]
    result = _invoke(ConfigError(problems))
    assert result.exit_code == 2
    assert result.stderr == "Error: a.yaml:3:5: fit.epochs: must be > 0\nError: a.yaml:4:1: x\n"
    assert _invoke(UsageError("one line")).stderr == "Error: one line\n"


def test_an_os_error_is_its_path_and_reason_exit_1():
    error = OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/runs/x")
    result = _invoke(error)
    assert (result.exit_code, result.stderr) == (1, "Error: /mnt/runs/x: a read-only filesystem\n")


def test_a_bug_is_one_line_naming_the_file_that_holds_its_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = _invoke(KeyError("surprise"))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: unexpected KeyError: 'surprise' (a bug in cbrun: the traceback")
    (log,) = crash_folder().iterdir()
    assert str(log) in line and "Traceback (most recent call last)" in log.read_text()
    assert "KeyError: 'surprise'" in log.read_text()


def test_a_command_without_verbose_does_not_offer_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    @click.group(cls=CbrunGroup)
    def group():
        pass

    @group.command()
    def quiet_one():
        raise KeyError("x")

    result = CliRunner().invoke(group, ["quiet-one"])
    assert result.exit_code == 1 and "--verbose" not in result.stderr
    assert "(a bug in cbrun: the traceback is in " in result.stderr


def test_verbose_prints_the_traceback_too(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["cbrun", "fail", "--verbose"])
    result = _invoke(ValueError("deep"), "--verbose")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr


def test_click_exits_and_usage_errors_pass_through():
    assert boundary.is_click_own(click.UsageError("x")) and not boundary.is_click_own(OSError())
    assert _invoke(click.UsageError("bad")).exit_code == 2
    assert _invoke(SystemExit(3)).exit_code == 3


def test_a_crash_log_that_cannot_be_written_is_said(monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "/sys/cbrun-crashes")
    try:
        raise RuntimeError("x")
    except RuntimeError as error:
        assert write_crash_log(error) is None
    result = _invoke(RuntimeError("y"))
    assert "the traceback could not be saved" in result.stderr


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt()])
def test_ctrl_c_outside_training_is_130(interrupt):
    result = _invoke(interrupt)
    assert (result.exit_code, result.stderr) == (130, "Error: interrupted\n")
