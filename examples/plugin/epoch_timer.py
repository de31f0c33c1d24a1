"""An example plugin callback: times each epoch and prints it through cbrun's log.

Allowed from examples/plugin/epoch_timer.yaml with `plugins: [epoch_timer]`;
cbrun looks for plugin modules next to the config and in the current folder.
"""

import time

import keras

from cbrun import register_callback
from cbrun.output.logsink import PrintsLines


@register_callback()
class EpochTimer(PrintsLines, keras.callbacks.Callback):
    """Prints how long each epoch took.

    Args:
        label: a word printed before the time. Defaults to `"epoch"`.
    """

    def __init__(self, label="epoch"):
        super().__init__()
        self.label = label

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.say(f"{self.label} {epoch} took {time.perf_counter() - self._start:.3f}s")
