"""Failures during training that are the user's to fix, each told in one line.

A plugin callback raising from its own code, or TensorFlow refusing the run's
data, model or loss, comes with a page of traceback that says little: the
console gets one line (naming the plugin's `file:line` and the fix, or what
TensorFlow said), `train.log` gets the whole traceback, `--verbose` prints it.
Anything else is a bug of cbrun's and keeps its traceback.
"""

from __future__ import annotations

import sys
import traceback

from cbrun.build.plugin_failures import explain_plugin_failure, plugin_source_files
from cbrun.errors import CbrunError, PluginFailed, TrainingFailed, TrainingRefused
from cbrun.output.logsink import LogSink
from cbrun.tensorflow_loader import load_tensorflow


def training_failure(
    exc: Exception, callbacks, sink: LogSink, log_path, verbose: bool, nothing_trained: bool
) -> CbrunError | None:
    """The one-line error for `exc`, with its traceback logged; None for a bug.

    TensorFlow refusing a run that has not finished one epoch is the config's or the
    data's mistake: `TrainingRefused` (exit 2; the caller removes the run folder).
    """
    tf = load_tensorflow()

    plugin = explain_plugin_failure(exc, plugin_source_files(type(cb) for cb in callbacks))
    if plugin is None and not isinstance(exc, tf.errors.OpError):
        return None
    trace = "".join(traceback.format_exception(exc))
    sink.log_only(trace.rstrip("\n"))
    if verbose:
        sys.stderr.write(trace)
    where = f"(traceback in {log_path})"
    if plugin is not None:
        return PluginFailed(f"{plugin} {where}")
    said = _what_tensorflow_said(exc)
    if nothing_trained:
        return TrainingRefused(
            f"TensorFlow refused the config's data, model or loss: {said} (nothing was trained "
            "and the run folder is removed; --verbose prints the traceback)"
        )
    return TrainingFailed(f"training failed: {said} {where}")


def _what_tensorflow_said(exc) -> str:
    """The lines of an OpError that speak to the user, not the graph's node names."""
    text = exc.message if isinstance(exc.message, str) else str(exc)
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
