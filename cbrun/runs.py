"""Past runs, read from their folders: one row each, newest first. No TensorFlow."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from cbrun.callbacks.metrics import best_epochs
from cbrun.rundir import CONFIG, HISTORY, SUMMARY


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
    """history.csv as rows of floats (the epoch as an int)."""
    path = folder / HISTORY
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.append(
                {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
            )
    return rows


def run_row(folder: Path) -> dict | None:
    """One run's row, or None when the folder is not a cbrun run."""
    if not (folder / SUMMARY).is_file() or not (folder / CONFIG).is_file():
        return None
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"path": str(folder), "name": folder.name, "status": "unreadable"}
    status = summary.get("status")
    if status == "running" and not _alive(summary.get("pid")):
        status = "unfinished"
    evaluation = summary.get("evaluate") or {}
    return {
        "path": str(folder),
        "name": summary.get("name"),
        "started": summary.get("started"),
        "status": status,
        "epochs": summary.get("epochs_run"),
        "final": summary.get("train") or {},
        "best": {k: value for k, (_, value) in best_epochs(read_history(folder)).items()},
        "evaluate": evaluation,
        "seconds": (summary.get("seconds") or {}).get("total"),
    }


def list_runs(runs_dir: Path) -> list[dict]:
    """Every run folder under `runs_dir`, newest first."""
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
