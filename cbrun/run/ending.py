"""The end of a run, whatever it was: its status, `summary.json` and `history.csv`, the
trackers' end, the end-of-run table and the exit code.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from cbrun.errors import NonFiniteLossError
from cbrun.output.rundir import MODEL, SUMMARY, TRACE
from cbrun.output.summary import RunStatus, Summary, summary_table
from cbrun.run import checkpoints


@dataclass
class TrainResult:
    """What `train` leaves behind."""

    run_dir: Path
    status: RunStatus
    summary: Summary
    exit_code: int = 0
    tracer: object = None  # the HookTracer, when the run was traced


def fit_status(training, recorder, stop) -> RunStatus:
    """What `fit` ended as: NaN, a signal, stopped early (a callback), or completed."""
    if recorder.nonfinite is not None:
        return RunStatus.NAN
    if stop.signal_name:
        return RunStatus.for_signal(stop.signal_name)
    if len(recorder.history) < training.spec.fit.epochs:
        return RunStatus.STOPPED_EARLY
    return RunStatus.COMPLETED


def write_summary(training, recorder, status, evaluation, error) -> None:
    """Write `history.csv` and the final `summary.json` (whatever the status), then let
    the trackers send the end (they read both files)."""
    run, summary, tracking = training.run, training.summary, training.tracking
    elapsed = time.time() - training.started
    summary.finish(status, recorder.history, recorder.epoch_seconds, elapsed)
    summary.evaluate, summary.error = evaluation, error
    if tracking is not None:
        summary.tracking = tracking.settle()
    try:
        run.write_history(recorder.history)
        run.write_json(SUMMARY, summary.to_json())
    except OSError as write_error:
        training.sink.line(f"could not write {SUMMARY}: {write_error}", always=True)
    if tracking is not None:
        tracking.finish(status.value, recorder.history, evaluation)
        if tracking.missed:
            training.sink.line(f"send the rest with: cbrun track {run.path}", always=True)


def report(training, recorder, status: RunStatus) -> TrainResult:
    """The end-of-run table, the trace file, and the exit code of `status`."""
    run, summary, sink = training.run, training.summary, training.sink
    if training.chief:
        table, plain = summary_table(summary, recorder.best_epochs(), run.path)
        sink.show(table, plain, always=True)
    tracer = training.tracer
    if tracer is not None:
        run.write_text(TRACE, "".join(json.dumps(e) + "\n" for e in tracer.events))
    if status == RunStatus.NAN:
        epoch, (first, last), loss = recorder.nonfinite
        steps = f"step {last}" if first == last else f"steps {first}-{last} (one execution)"
        kept = (
            f"the last good checkpoint is in {run.file(checkpoints.BACKUP)}"
            if checkpoints.available(run.path)
            else "no epoch finished, so the run folder is removed"
        )
        raise NonFiniteLossError(
            f"loss became {loss} at epoch {epoch + 1}, {steps}; training stopped, no "
            f"model was saved, {kept}"
        )
    # Without a checkpoint too, when the model was saved: the folder stays and --resume
    # starts it again from the first epoch (with neither, the runner removes it).
    kept = checkpoints.available(run.path) or run.file(MODEL).exists()
    if status in (RunStatus.INTERRUPTED, RunStatus.TERMINATED) and kept:
        sink.line(f"{status.value}: continue with: cbrun train --resume {run.path}", always=True)
    return TrainResult(run.path, status, summary, status.exit_code, tracer)
