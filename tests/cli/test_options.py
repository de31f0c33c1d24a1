"""What the commands share: options, the console, and telling a sweep folder from a run."""

from __future__ import annotations

import click
from click.testing import CliRunner

from cbrun.cli.options import make_sink, set_option
from cbrun.cli.sweep import is_sweep


def test_set_is_repeatable_and_keeps_the_order():
    @click.command()
    @set_option
    def show(overrides):
        click.echo(" ".join(overrides))

    result = CliRunner().invoke(show, ["--set", "fit.epochs=2", "--set", "seed=1"])
    assert result.output == "fit.epochs=2 seed=1\n"


def test_a_quiet_sink_prints_only_what_must_be_said(capsys):
    sink = make_sink(quiet=True)
    sink.line("a batch line")
    sink.line("the summary", always=True)
    assert capsys.readouterr().out == "the summary\n"


def test_a_sweep_folder_has_a_sweep_json(tmp_path):
    assert not is_sweep(tmp_path) and not is_sweep(None)
    (tmp_path / "sweep.json").write_text("{}")
    assert is_sweep(tmp_path)
