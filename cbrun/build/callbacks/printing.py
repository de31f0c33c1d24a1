"""The guide's printing callbacks, on Keras 3.

From the TensorFlow guide "Writing your own callbacks": one callback that tells
when each batch begins and ends, one that prints the loss per batch and the
average loss and error per epoch.
"""

from __future__ import annotations

import datetime

from cbrun.backend import load_keras
from cbrun.build.callback_state import NoTrainingState
from cbrun.output.logsink import PrintsLines

keras = load_keras()


class BatchTimestamps(NoTrainingState, PrintsLines, keras.callbacks.Callback):
    """Prints when each training and evaluation batch begins and ends.

    The guide's `MyCustomCallback`. Because it overrides batch hooks, Keras
    calls it after every single step (cbrun keeps `steps_per_execution` at 1).

    Example:

    ```yaml
    callbacks:
      - BatchTimestamps
    ```
    """

    def _stamp(self, what: str, batch: int, edge: str) -> None:
        self.say(f"{what}: batch {batch} {edge} at {datetime.datetime.now().time()}")

    def on_train_batch_begin(self, batch, logs=None):
        self._stamp("Training", batch, "begins")

    def on_train_batch_end(self, batch, logs=None):
        self._stamp("Training", batch, "ends")

    def on_test_batch_begin(self, batch, logs=None):
        self._stamp("Evaluating", batch, "begins")

    def on_test_batch_end(self, batch, logs=None):
        self._stamp("Evaluating", batch, "ends")


class LossAndErrorPrinting(NoTrainingState, PrintsLines, keras.callbacks.Callback):
    """Prints the loss after every batch and the average loss and error per epoch.

    The guide's `LossAndErrorPrintingCallback`. The epoch line names the mean
    absolute error when the model tracks `mae`, and every other metric it has.

    Example:

    ```yaml
    callbacks:
      - LossAndErrorPrinting
    ```
    """

    def on_train_batch_end(self, batch, logs=None):
        self.say(f"For batch {batch}, loss is {(logs or {}).get('loss', float('nan')):7.2f}.")

    def on_test_batch_end(self, batch, logs=None):
        self.say(f"For batch {batch}, loss is {(logs or {}).get('loss', float('nan')):7.2f}.")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # Numbered from 1, as every cbrun line is (the guide printed Keras's index).
        text = f"The average loss for epoch {epoch + 1} is {logs.get('loss', float('nan')):7.2f}"
        if "mae" in logs:
            text += f" and mean absolute error is {logs['mae']:7.2f}"
        others = [k for k in logs if k not in ("loss", "mae", "learning_rate")]
        if others:
            text += " (" + ", ".join(f"{k} {logs[k]:.4f}" for k in others) + ")"
        self.say(text + ".")
