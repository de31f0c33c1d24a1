"""The run directory: every artifact of one run, each written atomically.

```
runs/<name>-<YYYYmmdd-HHMMSS>/
  config.yaml  summary.json  history.csv  train.log  model.keras
```

A write goes to a temporary file in the same folder, is flushed to disk, and
then renamed over the target (`os.replace`), so a reader (or a crash) sees the
old file or the new one, never half of one. `train.log` is the exception: it
is appended line by line, like any log.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import math
import os
import signal
import time
from pathlib import Path

from cbrun.errors import RunDirError, UsageError
from cbrun.filesystem import probe_folder

CONFIG = "config.yaml"
SUMMARY = "summary.json"
HISTORY = "history.csv"
LOG = "train.log"
MODEL = "model.keras"
EVALUATE = "evaluate.json"
TRACE = "trace.jsonl"
CRASH = "crash.log"  # the traceback of a bug, when the run kept its folder
TEMP_MARK = ".tmp-"


def _temp_name(target: Path) -> Path:
    # Keep the suffix: Keras refuses to save a model whose name does not end in .keras.
    return target.with_name(f".{target.stem}{TEMP_MARK}{os.getpid()}{target.suffix}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Test-only fault injection, `CBRUN_FAULT=<kind>:<file name>:<n>`: at the n-th atomic
# write of that file, `enospc` raises "No space left on device" while writing, and
# `kill-before-rename` / `kill-after-rename` SIGKILL the process at that point. The
# variable is read at each write (a dict lookup), not once at import: the suite forks its
# cbrun processes from a server that imported this module long before.
FAULT_ENV = "CBRUN_FAULT"
_fault_counts: dict = {}


def _fault(stage: str, target: Path) -> None:
    fault = os.environ.get(FAULT_ENV)
    if not fault:
        return
    want, name, nth = fault.split(":")
    if target.name != name:
        return
    if stage == "write":
        _fault_counts[name] = _fault_counts.get(name, 0) + 1
    if _fault_counts.get(name) != int(nth):
        return
    if want == "enospc" and stage == "write":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
    if want == f"kill-{stage}":
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write `data` to `target` so that no reader ever sees a partial file."""
    temp = _temp_name(target)
    try:
        with open(temp, "wb") as f:
            _fault("write", target)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _fault("before-rename", target)
        os.replace(temp, target)
        _fault("after-rename", target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def _json_safe(value):
    """JSON has no NaN or infinity: write them as strings a reader can recognise."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def atomic_write_json(target: Path, data) -> None:
    atomic_write_text(target, json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")


def history_csv(rows: list[dict]) -> str:
    """One row per epoch: epoch, learning_rate, then every train and val_ metric.

    The epoch as the console counts it, 1 for the first (Keras counts from 0 inside;
    the run's rows in memory keep Keras's count)."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    metrics = sorted(
        k for k in keys if k not in ("epoch", "learning_rate") and not k.startswith("val_")
    )
    val = sorted(k for k in keys if k.startswith("val_"))
    columns = ["epoch", "learning_rate", *metrics, *val]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**{k: row.get(k, "") for k in columns}, "epoch": row["epoch"] + 1})
    return out.getvalue()


def _check_parent(folder: Path) -> None:
    """A usable place for run folders: a writable folder, or creatable as one (the probe
    every writer uses, cbrun/filesystem.py; a run has probed it already, by its option's
    name, before its data was read)."""
    try:
        probe_folder(folder, "the runs folder")
    except UsageError as error:
        raise RunDirError(str(error)) from None


def _holder(run) -> str:
    """` (pid N, training)` from the summary, when it says who."""
    try:
        summary = json.loads(run.file(SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    pid = summary.get("pid") if isinstance(summary, dict) else None
    return f" (pid {pid}, {summary.get('status')})" if isinstance(pid, int) else ""


class RunDir:
    """One run's folder. Create with `RunDir.create` or `RunDir.exact`; read with `RunDir.open`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock_fd: int | None = None

    def lock(self) -> RunDir:
        """Hold the folder for this process (an OS lock on the folder itself, which the
        kernel releases when the process ends, however it ends); refuse if another
        process holds it. Kept until `unlock`."""
        if self._lock_fd is not None:
            return self
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(
                f"{self.path} is in use by another cbrun process{_holder(self)}; wait for it "
                "to end (a lock left by a killed process is released with it)"
            ) from None
        self._lock_fd = fd
        return self

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the last descriptor releases the lock
            self._lock_fd = None

    def file(self, name: str) -> Path:
        return self.path / name

    @classmethod
    def create(cls, runs_dir: Path, name: str, now: float | None = None) -> RunDir:
        """A new folder `<runs_dir>/<name>-<YYYYmmdd-HHMMSS>`, suffixed `-2`, `-3`... if taken."""
        runs_dir = Path(runs_dir)
        _check_parent(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        base = f"{name}-{stamp}"
        for attempt in range(1, 1000):
            path = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
            try:
                path.mkdir()  # exclusive: two runs never share a folder
                return cls(path)
            except FileExistsError:
                continue
        raise RunDirError(f"{runs_dir}: too many runs named {base}")

    @classmethod
    def exact(cls, path: Path) -> RunDir:
        """The folder `path`, which must not exist yet."""
        path = Path(path)
        if path.exists():
            raise RunDirError(
                f"{path} already exists; give a new folder, or resume it with --resume {path}"
            )
        _check_parent(path.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
        return cls(path)

    @classmethod
    def open(cls, path: Path, *, finished: bool = True) -> RunDir:
        """An existing run folder; refuses a missing, foreign or (if `finished`) unfinished one."""
        path = Path(path)
        if not path.is_dir():
            raise RunDirError(f"{path}: no such run directory")
        run = cls(path)
        if not run.file(CONFIG).is_file() or not run.file(SUMMARY).is_file():
            raise RunDirError(f"{path}: not a cbrun run directory (no {CONFIG} and {SUMMARY})")
        if finished and not run.file(MODEL).is_file():
            status = run.summary().status.value
            raise RunDirError(f"{path}: the run has no {MODEL} (status: {status})")
        return run

    def summary(self):
        """The run's `summary.json` as a `Summary`; a `RunDirError` when it cannot be read."""
        from pydantic import ValidationError

        from cbrun.output.summary import Summary

        try:
            return Summary.model_validate_json(self.file(SUMMARY).read_bytes())
        except (OSError, ValidationError) as error:
            said = str(error).splitlines()[0]
            raise RunDirError(f"{self.file(SUMMARY)}: unreadable ({said})") from None

    def remove_stray_temporaries(self) -> None:
        """Temporaries left by a process killed between write and rename."""
        for stray in self.path.glob(f".*{TEMP_MARK}*"):
            stray.unlink(missing_ok=True)

    def write_text(self, name: str, text: str) -> None:
        atomic_write_text(self.file(name), text)

    def write_json(self, name: str, data) -> None:
        atomic_write_json(self.file(name), data)

    def write_history(self, rows: list[dict]) -> None:
        atomic_write_text(self.file(HISTORY), history_csv(rows))

    def save_model(self, model, name: str = MODEL) -> None:
        target = self.file(name)
        temp = _temp_name(target)
        try:
            model.save(temp)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path)

    def inside(self, relative: str) -> Path:
        """A path argument resolved inside the run folder; refuses one that escapes it."""
        candidate = Path(relative)
        if candidate.is_absolute():
            return candidate
        resolved = (self.path / candidate).resolve()
        if not resolved.is_relative_to(self.path.resolve()):
            raise RunDirError(f"'{relative}' leaves the run directory {self.path}")
        return self.path / candidate
