"""A test-only plugin with state: counts the epochs it has seen, declared with the
get_state/set_state protocol, and writes the count when training ends."""

from pathlib import Path

import keras


class EpochCounter(keras.callbacks.Callback):
    def __init__(self, out="count.txt"):
        super().__init__()
        self.out = out

    def on_train_begin(self, logs=None):
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1

    def on_train_end(self, logs=None):
        Path(self.out).write_text(str(self.seen))

    def get_state(self):
        return {"seen": self.seen}

    def set_state(self, state):
        self.seen = state["seen"]


class ForgetfulCounter(EpochCounter):
    """The same counter without the protocol: a resumed run starts it at zero."""

    get_state = None
    set_state = None
