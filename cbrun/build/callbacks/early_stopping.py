"""The guide's early stopping at the minimum loss, on Keras 3."""

from __future__ import annotations

import numpy as np

from cbrun.backend import load_keras
from cbrun.output.logsink import PrintsLines

keras = load_keras()


class EarlyStoppingAtMinLoss(PrintsLines, keras.callbacks.Callback):
    """Stops training when the loss stops falling, and restores the best weights.

    The guide's callback: after each epoch it compares the monitored value with
    the best so far; once it has failed to improve for more than `patience`
    epochs (with `patience=0`, at the first epoch that does not improve) it
    stops training and puts back the weights of the best epoch.

    Args:
        patience: epochs without improvement to wait before stopping. Defaults to `0`.
        monitor: the epoch log to minimise. Defaults to `"loss"`.

    Example:

    ```yaml
    callbacks:
      - name: EarlyStoppingAtMinLoss
        args: {patience: 0}
    ```
    """

    says_its_decisions = True  # prints its own line; cbrun.run.decisions stays quiet

    def __init__(self, patience=0, monitor="loss"):
        super().__init__()
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0. Received: patience={patience!r}")
        self.patience = patience
        self.monitor = monitor

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = None
        self.best = np.inf
        self.best_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStoppingAtMinLoss monitors '{self.monitor}', which is not in the "
                f"epoch logs. Available: {', '.join(sorted(logs))}"
            )
        current = logs[self.monitor]
        if np.less(current, self.best):
            self.best = current
            self.best_epoch = epoch
            self.wait = 0
            self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def get_state(self) -> dict:
        """What training changed: the counters, the best value and its weights."""
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": float(self.best),
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def set_state(self, state: dict) -> None:
        for name in ("wait", "stopped_epoch", "best", "best_epoch", "best_weights"):
            setattr(self, name, state[name])

    def on_train_end(self, logs=None):
        if self.stopped_epoch is not None:
            self.say(
                f"Epoch {self.stopped_epoch + 1:05d}: early stopping; restored the weights "
                f"of epoch {self.best_epoch + 1} ({self.monitor} {self.best:.4f})"
            )
