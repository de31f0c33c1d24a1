"""The one owner of a run's state while it trains: history, epoch times, the NaN flag.

`RunRecorder` is the last of the run's own callbacks but the logger: after every
user callback has acted on an epoch it records the epoch's row (every metric and
the learning rate), writes the checkpoint and `history.csv`, and on resume puts
the history and each callback's declared state back. The progress display
(`callbacks/rich_progress.py`) only renders what the recorder decided.
"""

from __future__ import annotations

import math
import time

from cbrun.backend import load_keras
from cbrun.build import callback_state
from cbrun.catalog.metrics import best_epochs
from cbrun.errors import CbrunError
from cbrun.run import checkpoints

keras = load_keras()


def float32_digits(value) -> float:
    """The optimizer holds float32: 0.1 reads back as 0.10000000149. Keep the digits it means."""
    return float(f"{float(value):.7g}")


def current_learning_rate(model) -> float | None:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        return None
    return float32_digits(keras.ops.convert_to_numpy(optimizer.learning_rate))


class RunRecorder(keras.callbacks.Callback):
    """Records each whole epoch and checkpoints it; restores all of it on resume.

    Args:
        run: the run folder to checkpoint into, or None (record only).
        callbacks: the user's callbacks, whose declared state is checkpointed.
        checkpoint: the checkpoint to resume from, or None.
        warn: where a one-line warning goes.
    """

    def __init__(self, run=None, callbacks=(), checkpoint=None, warn=print):
        super().__init__()
        self.run = run
        self.callbacks = list(callbacks)
        self.checkpoint = checkpoint
        self.warn = warn
        self.history: list[dict] = list(checkpoint.state["history"]) if checkpoint else []
        self.epoch_seconds: list[float] = (
            list(checkpoint.state["epoch_seconds"]) if checkpoint else []
        )
        # (epoch, (first step, last step), loss) of the first NaN/inf loss: the steps Keras
        # reported it for, more than one with steps_per_execution > 1 (counted from 1)
        self.nonfinite: tuple | None = None

    def on_train_begin(self, logs=None):
        # After every other callback's on_train_begin, which resets its own state.
        self.nonfinite = None
        if self.checkpoint is not None:
            checkpoints.restore_callbacks(self.checkpoint, self.callbacks, self.warn)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._steps = 0
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution > 1 Keras calls this once a chunk, numbered as if the
        # chunk were whole even where the epoch ends first: the steps it covered are the
        # ones after the last call, up to the epoch's end.
        total = (self.params or {}).get("steps")
        first, last = self._steps + 1, batch + 1 if not total else min(batch + 1, total)
        self._steps = last
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss) and self.nonfinite is None:
            # Stop at the end of this step: a NaN loss never recovers.
            self.nonfinite = (self._epoch, (first, last), loss)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        total = self.params.get("steps") if self.params else None
        cut_short = total and self._steps < total and self.model.stop_training
        if cut_short or self.nonfinite is not None:
            return  # part of an epoch (a signal), or NaN weights: never a state to resume
        row = {"epoch": epoch, **(logs or {})}
        rate = row.get("learning_rate", current_learning_rate(self.model))
        row["learning_rate"] = None if rate is None else float32_digits(rate)
        self.history.append(row)
        self.epoch_seconds.append(time.perf_counter() - self._started)
        if self.run is not None:
            self._checkpoint(epoch)

    def _checkpoint(self, epoch: int) -> None:
        try:
            checkpoints.save(
                self.run.path,
                epoch=epoch + 1,
                model=self.model,
                callbacks=self.callbacks,
                history=self.history,
                epoch_seconds=self.epoch_seconds,
            )
            self.run.write_history(self.history)
        except OSError as error:
            raise CbrunError(
                f"cannot save the checkpoint of epoch {epoch + 1} in {self.run.path}: "
                f"{error.strerror or error}; the previous checkpoint is intact "
                f"(resume with: cbrun train --resume {self.run.path})"
            ) from None

    def recorded(self, epoch: int) -> bool:
        """Whether `epoch` ended whole and is in the history."""
        return bool(self.history) and self.history[-1]["epoch"] == epoch

    def best_epochs(self) -> dict:
        """`{metric: (epoch, value)}`: the best epoch of every metric, by its direction."""
        return best_epochs(self.history)


def prepare_resume(callbacks, epochs: int, warn) -> None:
    """Before a resumed `fit`: callbacks mend their files; those without state are named."""
    for callback in callbacks:
        callback_state.before_resume(callback, epochs)
    fresh = callback_state.fresh_on_resume(callbacks)
    if fresh:
        warn(
            f"resume: {', '.join(fresh)} declare no state (get_state/set_state) and start "
            "fresh; their decisions may differ from an uninterrupted run's"
        )
