"""cbrun's one logging callback: live progress in a terminal, plain lines elsewhere.

In an interactive terminal it shows a progress bar per epoch (steps, rate, ETA,
live loss and metrics) and, after each epoch, a row with every metric, the
learning rate and the change since the previous epoch, green when better and
red when worse. Anywhere else (CI, a pipe, `TERM=dumb`) it prints one plain
line per epoch and one every N batches, with no control characters. Every line
also goes to `train.log` through the sink.

Keras 3 on TensorFlow calls batch hooks in the training thread, between steps
(`backend.IS_THREAD_SAFE` is False there, so its asynchronous dispatch is off
whatever the callbacks say): every microsecond spent here is a microsecond of
training. So a step costs a few comparisons, the bar is redrawn twice a second
at most, and the bar is one text column formatted here rather than five rich
columns (measured: 0.40 against 0.70 ms a redraw). The logger is still marked
`async_safe` and takes a lock, for backends that do dispatch from threads.
"""

from __future__ import annotations

import threading
import time

from rich.progress import BarColumn, Progress, TextColumn
from rich.text import Text

from cbrun.backend import load_keras
from cbrun.catalog.metrics import lower_is_better
from cbrun.output.logsink import LogSink
from cbrun.run.recorder import current_learning_rate

keras = load_keras()


def format_metrics(logs: dict, skip=("learning_rate",)) -> str:
    return "  ".join(f"{k} {_number(v)}" for k, v in logs.items() if k not in skip)


def _bar_status(step: int, total, rate: float, logs: dict) -> str:
    """What follows the bar: `412/938  650 steps/s  ETA 0:01  loss 0.3123  ...`."""
    parts = [f"{step}/{total}" if total else str(step), f"{rate:,.0f} steps/s"]
    if total:
        hours, rest = divmod(round((total - step) / max(rate, 1e-9)), 3600)
        minutes, seconds = divmod(rest, 60)
        parts.append(
            f"ETA {hours}:{minutes:02d}:{seconds:02d}" if hours else f"ETA {minutes}:{seconds:02d}"
        )
    metrics = format_metrics(logs)
    return "  ".join(parts + ([metrics] if metrics else []))


def _number(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}"


class RunLogger(keras.callbacks.Callback):
    """Batch and epoch logs for `fit`, `evaluate` and `predict`.

    It renders, and decides nothing: with a `RunRecorder` (in `fit`) each epoch line
    shows the row the recorder kept, and an epoch it did not keep is said to be so.

    Args:
        sink: where lines go (the console made by the CLI, and train.log).
        every: print a batch line every N steps; `None` prints one about every
            `seconds`. Defaults to `None`.
        seconds: the interval for time-based batch lines. Defaults to `5.0`.
        verbose: print every batch. Defaults to `False`.
        epoch_lines_always: print epoch lines even when the sink is quiet (the
            non-chief workers of a cluster). Defaults to `False`.
        recorder: the run's `RunRecorder`, placed before the logger. Defaults to `None`.
    """

    async_safe = True

    def __init__(
        self,
        sink: LogSink,
        every=None,
        seconds=5.0,
        verbose=False,
        epoch_lines_always=False,
        recorder=None,
    ):
        super().__init__()
        self.sink = sink
        self.recorder = recorder
        # The non-chief workers of a cluster are quiet but for one line per epoch.
        self.epoch_lines_always = epoch_lines_always
        self.every = 1 if verbose else every
        self.seconds = seconds
        console = sink.console
        self.interactive = console.is_terminal and not console.is_dumb_terminal and not sink.quiet
        self._lock = threading.Lock()
        self._previous: dict = {}  # the last epoch's logs, to show each metric's change
        self._in_fit = False
        self._progress = None
        self._task = None

    # -- shared -----------------------------------------------------------------
    def _steps(self):
        return self.params.get("steps") if self.params else None

    def _start_pass(self, label: str, total) -> None:
        self._label = label
        self._total = total
        self._done = 0
        self._last_line_step = 0
        self._last_line_time = self._pass_start = time.perf_counter()
        self._last_bar = 0.0
        if self.interactive:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=30),
                TextColumn("{task.fields[status]}"),
                console=self.sink.console,
                transient=True,
                # No refresh thread: on 2 cores it competes with TensorFlow (measured
                # +2-4 % per epoch); the bar redraws when the logger updates it.
                auto_refresh=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(label, total=total, status="")

    def _stop_pass(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _batch_done(self, batch: int, logs) -> None:
        """Count a finished step (or chunk of steps) and print when due."""
        logs = logs or {}
        total = self._total
        with self._lock:
            step = batch + 1
            if total:
                step = min(step, total)  # chunks of steps_per_execution overshoot at the end
            if step <= self._done:
                return  # an older batch end arriving late on another thread
            self._done = step
            now = time.perf_counter()
            rate = step / max(now - self._pass_start, 1e-9)
            if self._progress is not None:
                # Twice a second at most: each redraw stops training for ~0.4 ms.
                if now - self._last_bar >= 0.5 or step == total:
                    self._last_bar = now
                    self._progress.update(
                        self._task,
                        completed=step,
                        status=_bar_status(step, total, rate, logs),
                        refresh=True,
                    )
            due = (
                step - self._last_line_step >= self.every
                if self.every
                else now - self._last_line_time >= self.seconds
            )
            if due and (total is None or step < total or self.every == 1):
                self._last_line_step, self._last_line_time = step, now
                line = self._batch_line(step, total, rate, logs)
                # With a live bar on screen the line goes to train.log only.
                if self._progress is not None:
                    self.sink.log_only(line)
                else:
                    self.sink.line(line)

    def _batch_line(self, step, total, rate, logs) -> str:
        of = f"/{total}" if total else ""
        return f"{self._label} step {step}{of}  {format_metrics(logs)}  ({rate:,.0f} steps/s)"

    # -- fit ----------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True
        history = self.recorder.history if self.recorder is not None else []
        self._previous = _without_epoch(history[-1]) if history else {}
        self.epochs = self.params.get("epochs")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start_pass(f"epoch {epoch + 1}/{self.epochs}", self._steps())

    def on_train_batch_end(self, batch, logs=None):
        self._batch_done(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._stop_pass()
        seconds = time.perf_counter() - self._pass_start
        if self.recorder is None:
            logs = dict(logs or {})
            logs.setdefault("learning_rate", current_learning_rate(self.model))
        elif self.recorder.recorded(epoch):
            logs = _without_epoch(self.recorder.history[-1])
        else:
            self.sink.line(
                f"epoch {epoch + 1}/{self.epochs} stopped at step {self._done}/{self._total}; "
                "not recorded"
            )
            return
        self.sink.fields(self._epoch_fields(epoch, seconds, logs), always=self.epoch_lines_always)
        self._previous = logs

    def _epoch_fields(self, epoch, seconds, logs) -> list[Text]:
        """`epoch 3/10`, `1.20s`, then each metric with its change (green when better,
        red when worse), then the learning rate: the fields of one epoch row."""
        fields = [Text(f"epoch {epoch + 1}/{self.epochs}"), Text(f"{seconds:.2f}s")]
        for key, value in logs.items():
            if key == "learning_rate":
                continue
            field = Text(f"{key} {_number(value)}")
            before = self._previous.get(key)
            if before is not None and isinstance(value, (int, float)):
                change = value - before
                better = (change < 0) == lower_is_better(key)
                style = "green" if change and better else ("red" if change else "")
                field.append(f" ({change:+.4f})", style=style)
            fields.append(field)
        fields.append(Text(f"lr {_number(logs['learning_rate'])}"))
        return fields

    def on_train_end(self, logs=None):
        self._stop_pass()
        self._in_fit = False

    # -- evaluate (and the validation pass inside fit) ---------------------------
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._start_pass("evaluate", self._steps())

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._batch_done(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._stop_pass()

    # -- predict -----------------------------------------------------------------
    def on_predict_begin(self, logs=None):
        self._start_pass("predict", self._steps())

    def on_predict_batch_end(self, batch, logs=None):
        self._batch_done(batch, {})

    def on_predict_end(self, logs=None):
        self._stop_pass()


def _without_epoch(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "epoch"}
