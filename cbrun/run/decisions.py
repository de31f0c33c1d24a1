"""Every decision that ends or changes a run, said in one line each.

Keras's callbacks decide quietly (with `verbose=0`, as cbrun runs them): EarlyStopping
sets `model.stop_training`, ReduceLROnPlateau and LearningRateScheduler set the
optimizer's learning rate, and at the end EarlyStopping may put back its best weights.
To say *which* callback did what, `Decisions` places a small watcher after each of the
user's callbacks in `fit`'s list: Keras calls them in order, so a change that a
watcher sees first was made by the callback just before it. A leading watcher takes
the state before any of them acts (a schedule in the optimizer, changing every step,
is never mistaken for a callback's decision), and a closing one, after the run
logger, prints the epoch's decisions below its row.
"""

from __future__ import annotations

from cbrun.backend import load_keras
from cbrun.output.logsink import LogSink
from cbrun.run.recorder import current_learning_rate

keras = load_keras()


def _value(number) -> str:
    return f"{float(number):.4g}"


def stop_reason(callback) -> str:
    """Why a callback stopped the run, from what Keras's EarlyStopping keeps."""
    monitor = getattr(callback, "monitor", None)
    best, best_epoch = getattr(callback, "best", None), getattr(callback, "best_epoch", None)
    if monitor is None or best is None or best_epoch is None:
        return ""
    delta = abs(float(getattr(callback, "min_delta", 0) or 0))
    by = f" by more than {_value(delta)}" if delta else ""
    wait = getattr(callback, "wait", None)
    during = f" for {wait} epochs" if wait else ""
    return (
        f": {monitor} did not improve{by}{during} (best {_value(best)} at epoch {best_epoch + 1})"
    )


class _Watcher(keras.callbacks.Callback):
    """Sees what the callback before it (`owner`) changed; None for the leading one."""

    def __init__(self, decisions: Decisions, owner=None):
        super().__init__()
        self.decisions, self.owner = decisions, owner

    def on_train_begin(self, logs=None):
        if self.owner is None:
            self.decisions.take(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.decisions.look(self, epoch, self.model, now=True)

    def on_epoch_end(self, epoch, logs=None):
        self.decisions.look(self, epoch, self.model, now=False)

    def on_train_end(self, logs=None):
        if self.owner is not None:
            self.decisions.restored(self.owner)


class _Teller(keras.callbacks.Callback):
    """After the run logger: the epoch's decisions, below its row."""

    def __init__(self, decisions: Decisions):
        super().__init__()
        self.decisions = decisions

    def on_epoch_end(self, epoch, logs=None):
        self.decisions.tell()

    def on_train_end(self, logs=None):
        self.decisions.tell()


class Decisions:
    """Watches the user's callbacks in `fit` and says what they decided.

    Args:
        sink: where the lines go (console and train.log).
    """

    def __init__(self, sink: LogSink):
        self.sink = sink
        self._rate = None
        self._stopped = False
        self._queued: list[str] = []

    def around(self, callbacks: list) -> list:
        """`callbacks` with a watcher before the first and after each one."""
        out = [_Watcher(self)]
        for callback in callbacks:
            out += [callback, _Watcher(self, callback)]
        return out

    def teller(self) -> keras.callbacks.Callback:
        """The callback to place after the run logger."""
        return _Teller(self)

    def take(self, model) -> None:
        self._rate = current_learning_rate(model)
        self._stopped = bool(model.stop_training)

    def look(self, watcher: _Watcher, epoch: int, model, now: bool) -> None:
        owner = watcher.owner
        if owner is None:  # the leading watcher: what the steps or the signals did
            self.take(model)
            return
        says_itself = getattr(owner, "says_its_decisions", False)
        name = type(owner).__name__
        rate = current_learning_rate(model)
        if rate is not None and self._rate is not None and rate != self._rate:
            if not says_itself:
                change = "lowered" if rate < self._rate else "raised"
                line = (
                    f"epoch {epoch + 1}: {name} {change} the learning rate from "
                    f"{_value(self._rate)} to {_value(rate)}"
                )
                self.sink.line(line) if now else self._queued.append(line)
            self._rate = rate
        if model.stop_training and not self._stopped:
            self._stopped = True
            if not says_itself:
                self._queued.append(
                    f"epoch {epoch + 1}: {name} stopped the run{stop_reason(owner)}"
                )

    def restored(self, owner) -> None:
        """After EarlyStopping's `on_train_end`: whose weights the model now has."""
        if getattr(owner, "says_its_decisions", False) or not hasattr(
            owner, "restore_best_weights"
        ):
            return
        name = type(owner).__name__
        if owner.restore_best_weights and getattr(owner, "best_weights", None) is not None:
            monitor = getattr(owner, "monitor", "the monitor")
            self._queued.append(
                f"{name} restored the weights of epoch {owner.best_epoch + 1} "
                f"({monitor} {_value(owner.best)}): the saved model has them"
            )
        elif getattr(owner, "stopped_epoch", 0):
            self._queued.append(
                f"{name}: the saved model has the last epoch's weights "
                "(restore_best_weights is off)"
            )

    def tell(self) -> None:
        for line in self._queued:
            self.sink.line(line)
        self._queued = []
