"""`summary.json`: one typed model for the runner that writes it and the commands that read it.

The status is a `RunStatus`, which knows its exit code: one table for both.
Non-finite numbers are written as strings (`"nan"`, `"inf"`; JSON has neither),
so metric values read back as `float | str`.
"""

from __future__ import annotations

import os
import platform
import time
from enum import Enum
from importlib import metadata

from pydantic import BaseModel, ConfigDict, Field
from rich.table import Table

from cbrun import __version__
from cbrun.backend import on_jax


class RunStatus(str, Enum):
    """How a run stands, and the exit code `cbrun train` ends with for it."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED_EARLY = "stopped_early"
    NAN = "nan"
    INTERRUPTED = "interrupted"
    TERMINATED = "terminated"
    FAILED = "failed"

    @property
    def exit_code(self) -> int:
        return {
            RunStatus.COMPLETED: 0,
            RunStatus.STOPPED_EARLY: 0,
            RunStatus.NAN: 3,
            RunStatus.INTERRUPTED: 130,
            RunStatus.TERMINATED: 143,
            RunStatus.FAILED: 1,
            RunStatus.RUNNING: 1,
        }[self]

    @property
    def finished(self) -> bool:
        """A finished run has its model and nothing left to resume."""
        return self in (RunStatus.COMPLETED, RunStatus.STOPPED_EARLY)

    @classmethod
    def for_signal(cls, name: str | None) -> RunStatus:
        return cls.TERMINATED if name == "SIGTERM" else cls.INTERRUPTED


Metrics = dict[str, float | str]


class Seconds(BaseModel):
    total: float = 0.0
    epochs: list[float] = Field(default_factory=list)


class Segment(BaseModel):
    """One stretch of a run in one process: the first, then one per `--resume`."""

    from_epoch: int
    started: str
    versions: dict[str, str | None]
    distribute: dict


class Summary(BaseModel):
    """Everything `summary.json` says. Unknown keys (from newer cbrun) are kept."""

    model_config = ConfigDict(extra="allow")

    status: RunStatus
    name: str
    backend: str | None = None  # Keras's backend: tensorflow or jax (the config's `backend`)
    epochs_run: int = 0
    train: Metrics | None = None
    evaluate: Metrics | None = None
    data: dict = Field(default_factory=dict)
    seconds: Seconds = Field(default_factory=Seconds)
    versions: dict[str, str | None] = Field(default_factory=dict)
    distribute: dict = Field(default_factory=dict)
    run_dir: str | None = None
    started: str | None = None
    finished: str | None = None
    pid: int | None = None
    steps_per_execution: int | None = None
    resumed: list[dict] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    error: str | None = None
    # What the trackers need to continue (cbrun/tracking/session.py): MLflow's run id.
    tracking: dict = Field(default_factory=dict)
    # `{key: file:line:col or --set ...}` of the values the config's files gave (cbrun diff).
    origins: dict = Field(default_factory=dict)
    # How fit ran: the dtype policy and the class weights as Keras got them (all classes).
    fit: dict = Field(default_factory=dict)

    def to_json(self) -> dict:
        """Plain data for `atomic_write_json` (which writes NaN and infinities as strings)."""
        data = self.model_dump(exclude_none=False)
        data["status"] = self.status.value
        if self.pid is None:
            data.pop("pid")
        if self.error is None:
            data.pop("error")
        return data

    def running(self, *, pid: int, data: dict, from_epoch: int, distribute: dict) -> None:
        """This process takes the run on (first, or on resume): a new segment begins."""
        if from_epoch or self.segments:
            self.resumed.append({"at_epoch": from_epoch, "time": now()})
        self.status, self.pid, self.data = RunStatus.RUNNING, pid, data
        self.begin_segment(from_epoch, distribute)

    def finish(self, status: RunStatus, history: list, epoch_seconds: list, elapsed: float):
        """The run's end (whatever it was): status, epochs, the last epoch's metrics, time."""
        last = {k: v for k, v in (history or [{}])[-1].items() if k != "epoch"}
        self.status = status
        self.epochs_run = len(history)
        self.train = last or None
        self.seconds.total = round(self.seconds.total + elapsed, 3)
        self.seconds.epochs = [round(s, 4) for s in epoch_seconds]
        self.finished = now()
        self.pid = None

    def begin_segment(self, from_epoch: int, distribute: dict) -> None:
        """Start this process's stretch of the run: versions and distribute are its own."""
        self.versions = versions()
        self.distribute = distribute
        self.segments.append(
            Segment(
                from_epoch=from_epoch, started=now(), versions=self.versions, distribute=distribute
            )
        )


def now(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(at))


def versions() -> dict[str, str | None]:
    """The versions that decide what a run does: cbrun, TensorFlow, Keras, Python, and
    JAX's when the run is on JAX."""
    found = {"cbrun": __version__, "python": platform.python_version()}
    packages = ("tensorflow", "keras") + (("jax", "jaxlib") if on_jax() else ())
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def summary_table(summary: Summary, best: dict, run_path) -> tuple[Table, str]:
    """The end-of-run table, and its plain-text form for train.log."""
    table = Table(title=f"{summary.name}: {summary.status.value}", show_header=True)
    table.add_column("")
    table.add_column("value", justify="right")
    lines = [
        f"{summary.name}: {summary.status.value} after {summary.epochs_run} epoch(s), "
        f"{summary.seconds.total:.1f}s"
    ]
    rows = [(f"final {key}", _fmt(value)) for key, value in (summary.train or {}).items()]
    rows += [
        (f"best {key}", f"{_fmt(value)} (epoch {epoch + 1})")
        for key, (epoch, value) in best.items()
    ]
    rows += [(f"evaluate {key}", _fmt(value)) for key, value in (summary.evaluate or {}).items()]
    rows.append(("run directory", str(run_path)))
    for label, value in rows:
        table.add_row(label, value)
        lines.append(f"{label}: {value}")
    return table, "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def start_summary(spec, run, dataset, strategy, started, in_place, first_epoch) -> Summary:
    """A new run's summary, or the resumed run's, with this process's segment begun."""
    if in_place:
        summary = run.summary()
    else:
        summary = Summary(
            status=RunStatus.RUNNING, name=spec.name, run_dir=str(run.path), started=now(started)
        )
    if not summary.origins:  # a resumed run keeps where its first config came from
        summary.origins = dict(spec._origins)
    summary.backend = spec.backend
    distribute = {
        "strategy": spec.distribute.strategy,
        "replicas": strategy.num_replicas_in_sync,
        "global_batch": spec.fit.batch_size,
    }
    summary.running(
        pid=os.getpid(),
        data=dataset.info.to_dict(),
        from_epoch=first_epoch,
        distribute=distribute,
    )
    return summary
