"""Failures during training that are the user's to fix, each told in one line.

A plugin callback raising from its own code, or TensorFlow refusing the run's
data, model or loss, comes with a page of traceback that says little: the
console gets one line (naming the plugin's `file:line` and the fix, or what
TensorFlow said), `train.log` gets the whole traceback, `--verbose` prints it.
Anything else is a bug of cbrun's and keeps its traceback.
"""

from __future__ import annotations

import shutil
import sys
import traceback
from pathlib import Path

from cbrun.backend import load_tensorflow, on_jax
from cbrun.build.plugin_failures import explain_plugin_failure, plugin_source_files
from cbrun.errors import (
    CbrunError,
    PluginFailed,
    RunInterrupted,
    TrainingFailed,
    TrainingRefused,
)
from cbrun.output.crashes import CRASH_LOG_ATTRIBUTE, write_crash_log
from cbrun.output.logsink import LogSink
from cbrun.output.rundir import CRASH, MODEL


def training_failure(
    exc: Exception, callbacks, sink: LogSink, log_path, verbose: bool, nothing_trained: bool
) -> CbrunError | None:
    """The one-line error for `exc`, with its traceback logged; None for a bug.

    TensorFlow refusing a run that has not finished one epoch is the config's or the
    data's mistake: `TrainingRefused` (exit 2; the caller removes the run folder).
    """
    runtime = _runtime_errors()
    plugin = explain_plugin_failure(exc, plugin_source_files(type(cb) for cb in callbacks))
    if plugin is None and not isinstance(exc, runtime) and not raised_by_keras(exc):
        return None
    trace = "".join(traceback.format_exception(exc))
    sink.log_only(trace.rstrip("\n"))
    if verbose:
        sys.stderr.write(trace)
    if nothing_trained:  # the run folder, train.log with it, is removed
        log_path = write_crash_log(exc) or "no file: --verbose prints it"
    where = f"(traceback in {log_path})"
    if plugin is not None:
        return PluginFailed(f"{plugin} {where}")
    said = _what_tensorflow_said(exc)
    if not isinstance(exc, runtime):
        said = f"{type(exc).__name__}: {said}"
    if nothing_trained:
        return TrainingRefused(
            f"{'JAX' if on_jax() else 'TensorFlow'} refused the config's data, model or loss: "
            f"{said} (nothing was trained and the run folder is removed; --verbose prints "
            "the traceback)"
        )
    return TrainingFailed(f"training failed: {said} {where}")


# What Keras and TensorFlow raise when they refuse what they were given (a loss that
# cannot meet the model's output, a value out of a C type's range), as opposed to a bug.
_REFUSALS = (ValueError, TypeError, OverflowError, IndexError)
_LIBRARIES = ("/keras/", "/tensorflow/", "/tf_keras/", "/optree/", "/jax/", "/jaxlib/")


def _runtime_errors() -> tuple:
    """What the backend's runtime raises on an op it cannot run (a shape, an index)."""
    if on_jax():
        import jax

        return (jax.errors.JaxRuntimeError,)
    return (load_tensorflow().errors.OpError,)


def raised_by_keras(exc: BaseException) -> bool:
    """Whether `exc` is Keras or TensorFlow refusing their input: one of `_REFUSALS`
    raised from their own code (its innermost frame is theirs)."""
    if not isinstance(exc, _REFUSALS):
        return False
    frame = exc.__traceback__
    if frame is None:
        return False
    while frame.tb_next is not None:
        frame = frame.tb_next
    return any(part in frame.tb_frame.f_code.co_filename for part in _LIBRARIES)


def _what_tensorflow_said(exc) -> str:
    """The lines of an OpError that speak to the user, not the graph's node names."""
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) else str(exc)
    said = " ".join(
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line[0].isspace()
        and not line.startswith(("Graph execution error", "Detected at node"))
    )
    if len(said) > 200:
        said = said[:199] + "…"
    return said or type(exc).__name__


def nothing_to_resume(path: Path, chief: bool = True) -> bool:
    """A run folder that holds no finished epoch (no checkpoint) and no model: a run
    stopped by one Ctrl-C in its first epoch saved its model and ends `interrupted`, and
    keeps its folder (`--resume` starts it from the first epoch; a sweep resumes it)."""
    from cbrun.run import checkpoints

    return chief and not checkpoints.available(path) and not (path / MODEL).exists()


def remove_untrained(path: Path, sink: LogSink) -> None:
    """A new run that never finished an epoch leaves no folder, whatever ended it."""
    shutil.rmtree(path, ignore_errors=True)
    sink.line(
        f"no epoch finished: nothing to resume, the run folder {path} is removed", always=True
    )


def after_failure(run, sink: LogSink, fresh: bool, error: BaseException, chief: bool) -> None:
    """After a run raised: a new run that never finished an epoch is removed; a run folder
    that stays keeps the traceback of a bug in `crash.log`, which the CLI names
    (output/crashes.py reads it from the exception)."""
    if fresh and nothing_to_resume(run.path, chief):
        shutil.rmtree(run.path, ignore_errors=True)
        if isinstance(error, (KeyboardInterrupt, RunInterrupted)):
            sink.line("no epoch finished: the run folder is removed", always=True)
        return
    if isinstance(error, (CbrunError, KeyboardInterrupt, OSError)) or not chief:
        return
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        run.write_text(CRASH, text)
    except OSError:
        return
    setattr(error, CRASH_LOG_ATTRIBUTE, str(run.file(CRASH)))
