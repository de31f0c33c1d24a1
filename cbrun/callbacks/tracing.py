"""Callbacks that show which hooks Keras calls, and when.

`CustomCallback` is the blog's teaching callback: it announces every hook it
receives. `HookTracer` records the same calls with timestamps for `cbrun trace`.
"""

from __future__ import annotations

import time

import keras

from cbrun.logsink import PrintsLines

RUN_HOOKS = tuple(
    f"on_{phase}_{edge}" for phase in ("train", "test", "predict") for edge in ("begin", "end")
)
EPOCH_HOOKS = ("on_epoch_begin", "on_epoch_end")
BATCH_HOOKS = tuple(
    f"on_{phase}_batch_{edge}"
    for phase in ("train", "test", "predict")
    for edge in ("begin", "end")
)


class CustomCallback(PrintsLines, keras.callbacks.Callback):
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
    """Records every hook call in order, with its time, for `cbrun trace`.

    Args:
        batches: record batch hooks too. Overriding them makes Keras call every
            callback synchronously after each step. Defaults to `False`.
    """

    def __init__(self, batches=False):
        super().__init__()
        self.batches = batches
        self.events: list[dict] = []
        self._start = time.perf_counter()
        hooks = RUN_HOOKS + EPOCH_HOOKS + (BATCH_HOOKS if batches else ())
        for hook in hooks:
            setattr(self, hook, self._recorder(hook))

    def _recorder(self, hook):
        takes_index = hook in EPOCH_HOOKS or hook in BATCH_HOOKS

        def record(*args, **kwargs):
            index = args[0] if takes_index and args else None
            self.events.append(
                {"hook": hook, "index": index, "t": time.perf_counter() - self._start}
            )

        return record
