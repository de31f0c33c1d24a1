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
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rows.append(
                    {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                )
    except (OSError, UnicodeDecodeError, ValueError, TypeError, csv.Error) as error:
        line = f" row {len(rows) + 1}" if rows or isinstance(error, (ValueError, TypeError)) else ""
        raise RunDirError(f"{path}:{line} not a history cbrun wrote ({error})") from None
    if any("epoch" not in row for row in rows):
        raise RunDirError(f"{path}: not a history cbrun wrote (no epoch column)")
    if rows and rows[0].get("epoch") == 0:
        rows = [{**row, "epoch": row["epoch"] + 1} for row in rows]
    return rows


def run_row(folder: Path) -> dict | None:
    """One run's row, or None when the folder is not a cbrun run."""
    if not (folder / SUMMARY).is_file() or not (folder / CONFIG).is_file():
        return None
    try:
        summary = RunDir(folder).summary()
        history = read_history(folder)
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
        "best": {k: value for k, (_, value) in best_epochs(history).items()},
        "evaluate": summary.evaluate or {},
        "seconds": summary.seconds.total,
    }


def list_runs(runs_dir: Path) -> list[dict]:
    """Every run folder under `runs_dir`, newest first (none when it does not exist yet)."""
    if runs_dir.is_file():
        raise RunDirError(f"{runs_dir} is a file: give the folder that holds the run folders")
    if os.path.islink(runs_dir) and not runs_dir.exists():
        raise RunDirError(f"{runs_dir}: a broken link or a loop of symbolic links")
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
    state = _sweep_state(Path(folder) / "sweep.json")
    sign = -1 if state["objective"]["mode"] == "max" else 1
    rows = []
    for trial in state["trials"]:
        run_dir = trial.get("run_dir")
        row = run_row(Path(run_dir)) if isinstance(run_dir, str) and run_dir else None
        rows.append({**trial, "seconds": (row or {}).get("seconds")})
    return sorted(rows, key=lambda r: (r["objective"] is None, sign * (r["objective"] or 0)))


def _sweep_state(path: Path) -> dict:
    """`sweep.json`, checked to hold what a sweep writes; a `RunDirError` naming the file."""
    import json

    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RunDirError(f"{path}: not readable as a sweep's state ({error})") from None
    trials = state.get("trials") if isinstance(state, dict) else None
    objective = state.get("objective") if isinstance(state, dict) else None
    sound = (
        isinstance(objective, dict)
        and objective.get("mode") in ("min", "max")
        and isinstance(trials, list)
        and all(_trial_row(t) for t in trials)
    )
    if not sound:
        raise RunDirError(f"{path}: not a cbrun sweep's state (objective, trials)")
    return state


def _trial_row(trial) -> bool:
    """A trial as `sweep.json` records it: number, status, params, objective."""
    if not isinstance(trial, dict) or not {"number", "status", "params", "objective"} <= set(trial):
        return False
    objective = trial["objective"]
    number = isinstance(objective, (int, float)) and not isinstance(objective, bool)
    return (objective is None or number) and isinstance(trial["params"], (dict, type(None)))
