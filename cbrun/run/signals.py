"""Ctrl-C and SIGTERM during training: stop after the current step, not in the middle.

The first signal asks Keras to stop (`model.stop_training`); the run then writes
a complete, resumable folder. A second one stops at once (KeyboardInterrupt),
except inside `hold()`, which finishes what it guards first: the summary is
never left stale. Handlers are installed for one run only and put back after.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass

from cbrun.backend import load_keras


@dataclass
class StopSignals:
    """Set by a signal handler; the run stops at the end of the current step."""

    signal_name: str | None = None
    model: object = None
    count: int = 0
    holding: bool = False
    pending: bool = False

    def handle(self, signum, frame):
        self.count += 1
        if self.count > 1:
            if self.holding:
                self.pending = True
                return
            # Files are written atomically, so stopping anywhere tears nothing.
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        if self.model is not None:
            self.model.stop_training = True

    @contextlib.contextmanager
    def hold(self):
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending:
            raise KeyboardInterrupt

    def fit_callback(self):
        """A Keras callback for `fit`: a signal that came after the handlers were installed
        but before `fit` began would be lost, as `fit` clears `stop_training` when it
        starts; this sets it again at `on_train_begin`."""
        keras = load_keras()

        stop = self

        class KeepStopRequest(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                if stop.signal_name:
                    self.model.stop_training = True

        return KeepStopRequest()

    @contextlib.contextmanager
    def installed(self):
        """Handle SIGINT and SIGTERM while the block runs; the old handlers after it."""
        handlers = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
