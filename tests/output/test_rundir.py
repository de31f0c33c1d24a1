"""The run directory: atomic writes, folder rules, history.csv, paths kept inside."""

from __future__ import annotations

import json
import math
import os

import pytest

from cbrun.errors import RunDirError
from cbrun.output.rundir import (
    CONFIG,
    SUMMARY,
    RunDir,
    _temp_name,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    history_csv,
)


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old\n")
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old\n")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, None)  # fails once the temporary exists
    assert target.read_text() == "old\n"
    assert not _temp_name(target).exists()


def test_the_temporary_keeps_the_suffix_keras_needs(tmp_path):
    temp = _temp_name(tmp_path / "model.keras")
    assert temp.suffix == ".keras" and temp.name.startswith(".model.tmp-")


def test_json_writes_nan_and_infinity_as_strings(tmp_path):
    target = tmp_path / "s.json"
    atomic_write_json(target, {"loss": math.nan, "best": [math.inf, -math.inf, 1.5]})
    assert json.loads(target.read_text()) == {"loss": "nan", "best": ["inf", "-inf", 1.5]}


def test_history_csv_orders_columns_and_leaves_missing_values_empty():
    rows = [
        {"epoch": 0, "loss": 1.0, "val_loss": 1.5, "learning_rate": 0.1, "mae": 0.5},
        {"epoch": 1, "loss": 0.5, "learning_rate": 0.05, "mae": 0.4},
    ]
    assert history_csv(rows).splitlines() == [
        "epoch,learning_rate,loss,mae,val_loss",
        "1,0.1,1.0,0.5,1.5",  # the epoch as the console counts it
        "2,0.05,0.5,0.4,",
    ]


def test_create_names_folders_by_time_and_never_shares_one(tmp_path):
    now = 1795000000.0
    first = RunDir.create(tmp_path / "runs", "exp", now=now)
    second = RunDir.create(tmp_path / "runs", "exp", now=now)
    assert first.path.name.startswith("exp-") and second.path.name == first.path.name + "-2"


def test_exact_refuses_an_existing_folder(tmp_path):
    RunDir.exact(tmp_path / "run")
    with pytest.raises(RunDirError, match="already exists; give a new folder, or resume it"):
        RunDir.exact(tmp_path / "run")


def test_a_file_where_the_runs_folder_should_be_is_refused(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(RunDirError, match="is a file, not a folder"):
        RunDir.create(tmp_path / "runs" / "deeper", "exp")


def test_open_tells_missing_foreign_and_unfinished_folders_apart(tmp_path):
    with pytest.raises(RunDirError, match="no such run directory"):
        RunDir.open(tmp_path / "nowhere")
    (tmp_path / "foreign").mkdir()
    with pytest.raises(RunDirError, match="not a cbrun run directory"):
        RunDir.open(tmp_path / "foreign")
    run = RunDir.exact(tmp_path / "run")
    run.write_text(CONFIG, "name: x\n")
    run.write_json(SUMMARY, {"status": "running", "name": "x"})
    with pytest.raises(RunDirError, match=r"has no model.keras \(status: running\)"):
        RunDir.open(run.path)
    summary = RunDir.open(run.path, finished=False).summary()
    assert (summary.status, summary.name, summary.epochs_run) == ("running", "x", 0)
    run.write_json(SUMMARY, {"status": "sleeping", "name": "x"})
    with pytest.raises(RunDirError, match=r"summary.json: unreadable \(1 validation error"):
        RunDir.open(run.path, finished=False).summary()


def test_paths_stay_inside_the_run(tmp_path):
    run = RunDir.exact(tmp_path / "run")
    assert run.inside("best.keras") == run.path / "best.keras"
    assert run.inside("/abs/log.csv") == run.path.__class__("/abs/log.csv")
    with pytest.raises(RunDirError, match="leaves the run directory"):
        run.inside("../elsewhere.csv")


def test_stray_temporaries_are_removed(tmp_path):
    run = RunDir.exact(tmp_path / "run")
    stray = _temp_name(run.file(SUMMARY))
    stray.write_text("half")
    run.write_text(CONFIG, "name: x\n")
    run.remove_stray_temporaries()
    assert sorted(os.listdir(run.path)) == [CONFIG]
