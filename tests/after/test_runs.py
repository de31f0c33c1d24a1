"""`cbrun runs` rows, read from run folders alone (no TensorFlow)."""

from __future__ import annotations

import json
import os

from cbrun.after.runs import list_runs, read_history, run_row


def _run(folder, *, status="completed", started="2026-11-22T10:00:00", pid=None, history=""):
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("name: x\n")
    summary = {
        "status": status,
        "name": folder.name,
        "started": started,
        "epochs_run": history.count("\n") - 1 if history else 0,
        "train": {"loss": 0.3},
        "evaluate": {"loss": 0.4},
        "seconds": {"total": 2.5},
        "pid": pid,
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    if history:
        (folder / "history.csv").write_text(history)
    return folder


def test_read_history_types_the_columns(tmp_path):
    run = _run(
        tmp_path / "a", history="epoch,learning_rate,loss,val_loss\n0,0.1,1.5,\n1,0.1,0.5,0.7\n"
    )
    expected = [
        {"epoch": 1, "learning_rate": 0.1, "loss": 1.5},
        {"epoch": 2, "learning_rate": 0.1, "loss": 0.5, "val_loss": 0.7},
    ]
    # An older run folder counted from 0; read, it counts from 1 like a new one.
    assert read_history(run) == expected
    (run / "history.csv").write_text(
        "epoch,learning_rate,loss,val_loss\n1,0.1,1.5,\n2,0.1,0.5,0.7\n"
    )
    assert read_history(run) == expected


def test_a_row_has_the_best_value_of_each_metric(tmp_path):
    history = "epoch,learning_rate,accuracy,loss\n0,0.1,0.5,1.5\n1,0.1,0.9,0.4\n2,0.1,0.8,0.6\n"
    row = run_row(_run(tmp_path / "a", history=history))
    assert row["best"] == {"accuracy": 0.9, "loss": 0.4}
    assert row["final"] == {"loss": 0.3} and row["epochs"] == 3 and row["seconds"] == 2.5


def test_a_running_run_whose_process_is_gone_is_unfinished(tmp_path):
    alive = run_row(_run(tmp_path / "alive", status="running", pid=os.getpid()))
    gone = run_row(_run(tmp_path / "gone", status="running", pid=2**22 + 12345))
    assert (alive["status"], gone["status"]) == ("running", "unfinished")


def test_list_runs_newest_first_skipping_what_is_no_run(tmp_path):
    _run(tmp_path / "old", started="2026-11-21T10:00:00")
    _run(tmp_path / "new", started="2026-11-22T10:00:00")
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    broken = _run(tmp_path / "broken")
    (broken / "summary.json").write_text("{half")
    rows = list_runs(tmp_path)
    assert [r["name"] for r in rows] == ["new", "old", "broken"]
    assert rows[-1]["status"] == "unreadable"
    assert list_runs(tmp_path / "nowhere") == []


def test_runs_of_a_file_is_one_line_not_an_empty_table(tmp_path, cli):
    (tmp_path / "notes.txt").write_text("x")
    result = cli("runs", tmp_path / "notes.txt")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {tmp_path / 'notes.txt'} is a file: give the folder that holds the run folders"
    )
