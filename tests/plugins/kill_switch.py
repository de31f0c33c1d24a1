"""A test-only plugin: SIGKILLs its own process at a given epoch and batch, once.

The marker file makes it fire only the first time, so the resumed run (which
loads the same config) goes on.
"""

import os
import signal
from pathlib import Path

import keras


class KillSwitch(keras.callbacks.Callback):
    def __init__(self, epoch=-1, batch=0, marker="killed"):
        super().__init__()
        self.at_epoch = epoch
        self.at_batch = batch
        self.marker = marker

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (self.at_epoch, self.at_batch):
            marker = Path(self.marker)
            if not marker.exists():
                marker.write_text("killed")
                os.kill(os.getpid(), signal.SIGKILL)
