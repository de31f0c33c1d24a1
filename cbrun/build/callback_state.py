"""Each callback's training state: what a checkpoint saves and a resume sets back.

Only what training changed is state; constructor arguments never are (on resume
they come from the config, exactly as in the first run). Keras's monitor
callbacks show why: since Keras 3.11 they negate `min_delta` in place the first
time they learn the monitor's direction (keras#21275), so restoring attributes
by reflection negated it a second time and changed every later decision.

Where the state is declared:
- cbrun's own callbacks and plugins: a `get_state()` / `set_state(state)` pair
  (the protocol; values JSON can hold, NumPy arrays, lists of arrays);
- Keras's built-ins: an adapter in `_keras_adapters()`, naming the attributes
  Keras keeps (`wait`, `best`, `cooldown_counter`, ...) or saying it has none.
A callback with neither starts fresh on resume; `fresh_on_resume` names them.

Example:

```python
class Counter(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1

    def get_state(self):
        return {"seen": self.seen}

    def set_state(self, state):
        self.seen = state["seen"]
```
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from cbrun.backend import load_keras
from cbrun.output.rundir import atomic_write_text


class KerasState:
    """The training state of one Keras callback class.

    Args:
        fields: attributes holding plain values (counters, the best value).
        arrays: attributes holding a list of arrays (best weights), or None.
    """

    def __init__(self, fields: tuple = (), arrays: tuple = ()):
        self.fields = fields
        self.arrays = arrays

    def get(self, callback) -> dict:
        names = self.fields + self.arrays
        return {name: getattr(callback, name) for name in names if hasattr(callback, name)}

    def set(self, callback, state: dict) -> None:
        for name, value in state.items():
            if name in self.fields or name in self.arrays:
                setattr(callback, name, value)

    def before_resume(self, callback, epochs: int) -> None:
        """Mend what the callback wrote after the checkpoint it resumes from."""

    def arguments(self, args: dict, run, resuming: bool) -> dict:
        """The constructor arguments as the runner passes them (defaults inside the run)."""
        return args


class CSVLoggerState(KerasState):
    """CSVLogger keeps no counters, but its file may hold rows of epochs the resumed
    run will do again (killed after the row, before the checkpoint): they go, and the
    resumed run appends to the file instead of starting it again."""

    def arguments(self, args: dict, run, resuming: bool) -> dict:
        return {**args, "append": True} if resuming else args

    def before_resume(self, callback, epochs: int) -> None:
        path = Path(callback.filename)
        if not path.is_file():
            return
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if not lines:
            return
        header, rows = lines[0], lines[1:]
        epoch_of = [row.split(callback.sep, 1)[0].strip() for row in rows]  # the 1st column
        kept = [
            row for row, e in zip(rows, epoch_of, strict=True) if e.isdigit() and int(e) < epochs
        ]
        if kept != rows:
            atomic_write_text(path, header + "".join(kept))


class TensorBoardState(KerasState):
    """Event files, in the run folder unless the config says where; a resumed run
    appends new ones there."""

    def arguments(self, args: dict, run, resuming: bool) -> dict:
        if run is None or "log_dir" in args:
            return args
        return {**args, "log_dir": str(run.inside("logs"))}


STATELESS = KerasState()


class NoTrainingState:
    """Mixin for a callback whose every decision comes from its arguments and the epoch."""

    def get_state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass


@functools.cache
def _keras_adapters() -> dict:
    keras = load_keras()

    callbacks = keras.callbacks
    return {
        callbacks.EarlyStopping: KerasState(
            ("wait", "stopped_epoch", "best", "best_epoch"), arrays=("best_weights",)
        ),
        callbacks.ReduceLROnPlateau: KerasState(("wait", "cooldown_counter", "best")),
        # save_best_only compares with `best` (keras#17012: lost on Keras's own resume).
        callbacks.ModelCheckpoint: KerasState(("best",)),
        callbacks.CSVLogger: CSVLoggerState(),
        # A function of the epoch; the rate itself is an optimizer variable, checkpointed.
        callbacks.LearningRateScheduler: STATELESS,
        callbacks.TerminateOnNaN: STATELESS,
        # With swap_on_epoch, the checkpoint at an epoch's end holds the EMA weights in
        # the model (and the trained ones in the optimizer's EMA slots): the resumed
        # callback must know, or it trains on the EMA weights. Keras keeps it private.
        callbacks.SwapEMAWeights: KerasState(("_ema_weights_in_model",)),
        callbacks.TensorBoard: TensorBoardState(),
    }


def _adapter(callback) -> KerasState | None:
    return _class_adapter(type(callback))


def _class_adapter(cls) -> KerasState | None:
    for base in cls.__mro__:
        adapter = _keras_adapters().get(base)
        if adapter is not None:
            return adapter
    return None


def _has_protocol(callback) -> bool:
    """Whether the callback has its own `get_state()` / `set_state(state)` pair."""
    return callable(getattr(callback, "get_state", None)) and callable(
        getattr(callback, "set_state", None)
    )


def construction_arguments(cls, args: dict, run, resuming: bool) -> dict:
    """`args` with what the runner adds for `cls` (a default log folder, append on resume)."""
    adapter = _class_adapter(cls)
    return adapter.arguments(args, run, resuming) if adapter is not None else args


def declares_state(callback) -> bool:
    """Whether the callback says what its state is (its own pair, or an adapter)."""
    return _has_protocol(callback) or _adapter(callback) is not None


def fresh_on_resume(callbacks) -> list[str]:
    """The class names of callbacks that keep no declared state, each once."""
    names = []
    for callback in callbacks:
        name = type(callback).__name__
        if not declares_state(callback) and name not in names:
            names.append(name)
    return names


def get_state(callback) -> dict:
    """The callback's training state (empty when it declares none)."""
    if _has_protocol(callback):
        return dict(callback.get_state())
    adapter = _adapter(callback)
    return adapter.get(callback) if adapter is not None else {}


def set_state(callback, state: dict) -> None:
    """Put a saved state back (after the callback's own `on_train_begin` reset it)."""
    if _has_protocol(callback):
        callback.set_state(state)
        return
    adapter = _adapter(callback)
    if adapter is not None:
        adapter.set(callback, state)


def before_resume(callback, epochs: int) -> None:
    """Let the callback mend its own files before a run resumes after `epochs` epochs."""
    adapter = None if _has_protocol(callback) else _adapter(callback)
    if adapter is not None:
        adapter.before_resume(callback, epochs)


# -- to and from a checkpoint ------------------------------------------------------------


def encode(state: dict, prefix: str) -> tuple[dict, dict]:
    """`(JSON part, arrays)` of a state: arrays go to the .npz under `prefix`."""
    plain, arrays = {}, {}
    for name, value in state.items():
        if isinstance(value, (list, tuple)) and value and all(_is_array(v) for v in value):
            plain[name] = {"arrays": len(value)}
            arrays.update({f"{prefix}{name}/{i}": np.asarray(v) for i, v in enumerate(value)})
        elif _is_array(value) and np.ndim(value) > 0:
            plain[name] = {"array": True}
            arrays[f"{prefix}{name}"] = np.asarray(value)
        else:
            plain[name] = {"value": _plain(value)}
    return plain, arrays


def decode(plain: dict, arrays: dict, prefix: str) -> dict:
    state = {}
    for name, entry in plain.items():
        if "arrays" in entry:
            state[name] = [arrays[f"{prefix}{name}/{i}"] for i in range(entry["arrays"])]
        elif "array" in entry:
            state[name] = arrays[f"{prefix}{name}"]
        else:
            state[name] = entry["value"]
    return state


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "__array__") and hasattr(value, "shape")


def _plain(value):
    """A value JSON can hold: NumPy and backend scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic) or (_is_array(value) and np.ndim(value) == 0):
        return np.asarray(value).item()
    return value
