"""Callbacks that show which hooks Keras calls, and when.

`CustomCallback` is the blog's teaching callback: it announces every hook it
receives. `HookTracer` records the same calls with timestamps for `cbrun trace`.
"""

from __future__ import annotations

import time

from cbrun.backend import load_keras
from cbrun.build.callback_state import NoTrainingState
from cbrun.output.logsink import PrintsLines

keras = load_keras()

RUN_HOOKS = tuple(
    f"on_{phase}_{edge}" for phase in ("train", "test", "predict") for edge in ("begin", "end")
)
EPOCH_HOOKS = ("on_epoch_begin", "on_epoch_end")
BATCH_HOOKS = tuple(
    f"on_{phase}_batch_{edge}"
    for phase in ("train", "test", "predict")
    for edge in ("begin", "end")
)


class CustomCallback(NoTrainingState, PrintsLines, keras.callbacks.Callback):
    """Announces every hook Keras calls, with the log keys it receives.

    The blog's example of subclassing `keras.callbacks.Callback`: a way to see
    the order in which `fit`, `evaluate` and `predict` call their hooks.

    Example:

    ```yaml
    callbacks:
      - name: CustomCallback
        phases: [fit, evaluate, predict]
    ```
    """

    def _announce(self, hook, index=None, logs=None):
        keys = ", ".join(sorted(logs)) if logs else "none"
        where = "" if index is None else f" {index}"
        self.say(f"{hook}{where}; log keys: {keys}")

    def on_train_begin(self, logs=None):
        self._announce("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._announce("on_train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._announce("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._announce("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs=None):
        self._announce("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._announce("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._announce("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._announce("on_predict_end", logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._announce("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._announce("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._announce("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._announce("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._announce("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._announce("on_predict_batch_end", batch, logs)


class HookTracer(keras.callbacks.Callback):
    """Records every hook call in order, with its time and each callback's share of it.

    Put it first in the callback list, then `instrument` the others: the tracer
    opens an event when a hook starts, and each instrumented callback adds how
    long it spent in that hook.

    Args:
        batches: record batch hooks too. Overriding them makes Keras call every
            callback synchronously after each step. Defaults to `False`.
    """

    def __init__(self, batches=False):
        super().__init__()
        self.batches = batches
        self.events: list[dict] = []
        self._start = time.perf_counter()
        self.hooks = RUN_HOOKS + EPOCH_HOOKS + (BATCH_HOOKS if batches else ())
        for hook in self.hooks:
            setattr(self, hook, self._recorder(hook))

    def _recorder(self, hook):
        takes_index = hook in EPOCH_HOOKS or hook in BATCH_HOOKS

        def record(*args, **kwargs):
            index = args[0] if takes_index and args else None
            self.events.append(
                {
                    "hook": hook,
                    "index": index,
                    "t": round(time.perf_counter() - self._start, 6),
                    "callbacks": {},
                }
            )

        return record

    def instrument(self, callbacks) -> None:
        """Time the hooks each callback overrides (batch hooks only when tracing batches)."""
        for callback in callbacks:
            name = type(callback).__name__
            for hook in self.hooks:
                method = getattr(callback, hook, None)
                if method is None or getattr(method, "_is_default", False):
                    continue
                setattr(callback, hook, self._timed(name, method))

    def _timed(self, name, method):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                if self.events:
                    spent = self.events[-1]["callbacks"]
                    spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return timed

    def table(self) -> list[dict]:
        """Per hook: calls, total and mean seconds spent in the callbacks."""
        rows: dict[str, dict] = {}
        for event in self.events:
            row = rows.setdefault(event["hook"], {"hook": event["hook"], "calls": 0, "total": 0.0})
            row["calls"] += 1
            row["total"] += sum(event["callbacks"].values())
        for row in rows.values():
            row["mean"] = row["total"] / row["calls"]
        return list(rows.values())
