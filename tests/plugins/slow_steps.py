"""A test-only plugin: a slow set-up, slow steps, and a slow wind-down after a stop.

Its constructor takes `setup_seconds` (a run's set-up, before its training loop);
each training step takes at least `step_seconds`, so a signal finds training
still running; when a stop was requested, `on_train_end` takes `end_seconds`,
so a second signal can be sent while the run winds down.
"""

import time

import keras


class SlowSteps(keras.callbacks.Callback):
    def __init__(self, step_seconds=0.2, end_seconds=2.0, setup_seconds=0.0):
        super().__init__()
        time.sleep(setup_seconds)
        self.step_seconds = step_seconds
        self.end_seconds = end_seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.step_seconds)

    def on_train_end(self, logs=None):
        if self.model.stop_training:
            time.sleep(self.end_seconds)
