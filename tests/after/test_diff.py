"""`cbrun diff`: two real runs, a run against a config, 80 columns, JSON and Markdown."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from cbrun import api
from cbrun.after import diff as diffing
from tests.conftest import TINY


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff")
    config = folder / "tiny.yaml"
    config.write_text(TINY)
    a = api.train(config, run_dir=folder / "a", quiet=True).run_dir
    b = api.train(config, ["fit.epochs=5"], run_dir=folder / "b", quiet=True).run_dir
    return a, b, config


def test_only_the_changed_key_with_its_set_origin_and_the_metric_deltas(two_runs, cli):
    a, b, _ = two_runs
    result = cli("diff", a, b, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    (changed,) = found["config"]
    assert changed["key"] == "fit.epochs" and (changed["a"], changed["b"]) == (3, 5)
    assert changed["origins"]["b"] == "--set fit.epochs=5"
    rows = {row["metric"]: row for row in found["metrics"]}
    final = rows["final loss"]
    assert final["change"] == pytest.approx(final["b"] - final["a"])
    assert {"best mae", "evaluate loss"} <= set(rows)
    run = {row["what"]: (row["a"], row["b"]) for row in found["run"]}
    assert run["epochs"] == (3, 5) and run["status"] == ("completed", "completed")


def test_all_shows_every_key(two_runs):
    a, b, _ = two_runs
    every = diffing.diff(a, b, everything=True)
    keys = {row["key"] for row in every["config"]}
    assert {"fit.epochs", "fit.batch_size", "model.name", "seed"} <= keys


def test_a_run_against_a_config_compares_the_configs(two_runs, write_config):
    a, _, _ = two_runs
    other = write_config(TINY.replace("learning_rate: 0.01", "learning_rate: 0.05"), "o.yaml")
    found = diffing.diff(a, other)
    assert [row["key"] for row in found["config"]] == ["compile.optimizer.args.learning_rate"]
    assert (
        found["metrics"] == [{**row, "b": None, "change": None} for row in found["metrics"]]
        and found["metrics"]
    )


def test_it_reads_at_80_columns_and_in_markdown(two_runs, cli):
    a, b, _ = two_runs
    console = Console(width=80, record=True)
    for table in diffing.tables(diffing.diff(a, b)):
        console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "fit.epochs" in text and "--set fit.epochs=5" in text
    markdown = cli("diff", a, b, "--md")
    assert markdown.exit_code == 0
    assert "| `fit.epochs` | 3 | 5 |" in markdown.stdout
    assert "| metric | a | b | change |" in markdown.stdout


def test_what_is_neither_a_run_nor_a_config_is_one_line(two_runs, cli, tmp_path):
    a, _, _ = two_runs
    result = cli("diff", a, tmp_path / "nothing")
    assert result.exit_code == 2
    assert (
        result.stderr == f"Error: {tmp_path / 'nothing'}: neither a run folder nor a config file\n"
    )
    both = cli("diff", a, a, "--json", "--md")
    assert both.exit_code == 2 and "--md cannot be given with --json" in both.stderr
