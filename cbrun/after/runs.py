"""Past runs, read from their folders: one row each, newest first. No TensorFlow."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from cbrun.catalog.metrics import best_epochs
from cbrun.errors import RunDirError
from cbrun.output.rundir import CONFIG, HISTORY, SUMMARY, RunDir
from cbrun.output.summary import RunStatus


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_history(folder: Path) -> list[dict]:
    """history.csv as rows of floats, the epoch an int counted from 1 as the console
    does (an older run folder's file counted from 0: it is read as counting from 1)."""
    path = folder / HISTORY
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.append(
                {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
            )
    if rows and rows[0].get("epoch") == 0:
        rows = [{**row, "epoch": row["epoch"] + 1} for row in rows]
    return rows


def run_row(folder: Path) -> dict | None:
    """One run's row, or None when the folder is not a cbrun run."""
    if not (folder / SUMMARY).is_file() or not (folder / CONFIG).is_file():
        return None
    try:
        summary = RunDir(folder).summary()
    except RunDirError:
        return {"path": str(folder), "name": folder.name, "status": "unreadable"}
    status = summary.status.value
    if summary.status == RunStatus.RUNNING and not _alive(summary.pid):
        status = "unfinished"
    return {
        "path": str(folder),
        "name": summary.name,
        "started": summary.started,
        "status": status,
        "epochs": summary.epochs_run,
        "final": summary.train or {},
        "best": {k: value for k, (_, value) in best_epochs(read_history(folder)).items()},
        "evaluate": summary.evaluate or {},
        "seconds": summary.seconds.total,
    }


def list_runs(runs_dir: Path) -> list[dict]:
    """Every run folder under `runs_dir`, newest first (none when it does not exist yet)."""
    if runs_dir.is_file():
        raise RunDirError(f"{runs_dir} is a file: give the folder that holds the run folders")
    if not runs_dir.is_dir():
        return []
    rows = [
        row
        for folder in runs_dir.iterdir()
        if folder.is_dir()
        if (row := run_row(folder)) is not None
    ]
    rows.sort(key=lambda r: (r.get("started") or "", r["path"]), reverse=True)
    return rows


def sweep_rows(folder: Path) -> list[dict]:
    """A sweep's trials, best first (by its objective's direction), unfinished ones last."""
    import json

    state = json.loads((Path(folder) / "sweep.json").read_text(encoding="utf-8"))
    sign = -1 if state["objective"]["mode"] == "max" else 1
    rows = []
    for trial in state["trials"]:
        row = run_row(Path(trial["run_dir"])) if trial.get("run_dir") else None
        rows.append({**trial, "seconds": (row or {}).get("seconds")})
    return sorted(rows, key=lambda r: (r["objective"] is None, sign * (r["objective"] or 0)))
