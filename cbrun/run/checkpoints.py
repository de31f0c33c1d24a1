"""Resumable state: after every epoch, everything needed to continue exactly.

`backup/epoch-000004.npz` holds the model's variables (weights and random-seed
state), the optimizer's variables (step count, learning rate, moments), the
NumPy random state and the arrays callbacks keep (best weights);
`backup/epoch-000004.json` holds the epoch, the history rows so far and the
state of every callback (EarlyStopping's `wait` and `best`, ...). Both are
written atomically, the JSON last: a checkpoint without its JSON is not one.
The two newest checkpoints are kept, so a damaged newest one falls back to
the one before.

Keras's own BackupAndRestore keeps only weights, optimizer and epoch; callback
state is lost on resume (keras#19179, keras#17012). Here it is kept.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cbrun.build import callback_state
from cbrun.errors import RunDirError
from cbrun.output.rundir import atomic_write_bytes, atomic_write_json

BACKUP = "backup"
KEEP = 2
_NAME = re.compile(r"^epoch-(\d{6})\.json$")


@dataclass
class Checkpoint:
    """One loaded checkpoint."""

    epoch: int  # the number of epochs completed
    state: dict
    arrays: dict
    path: Path


def save(run_path: Path, *, epoch: int, model, callbacks, history, epoch_seconds) -> None:
    """Write the checkpoint taken after `epoch` epochs, then drop all but the newest two."""
    folder = run_path / BACKUP
    folder.mkdir(exist_ok=True)
    arrays = {f"model/{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    arrays.update(
        {f"optimizer/{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)}
    )
    kind, keys, position, has_gauss, cached = np.random.get_state()
    arrays["numpy_random/keys"] = keys
    states = []
    for index, callback in enumerate(callbacks):
        plain, kept = callback_state.encode(callback_state.get_state(callback), f"callback{index}/")
        states.append({"class": type(callback).__name__, "state": plain})
        arrays.update(kept)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    stem = f"epoch-{epoch:06d}"
    atomic_write_bytes(folder / f"{stem}.npz", buffer.getvalue())
    atomic_write_json(
        folder / f"{stem}.json",
        {
            "epoch": epoch,
            "history": history,
            "epoch_seconds": epoch_seconds,
            "callback_states": states,
            "numpy_random": [kind, int(position), int(has_gauss), float(cached)],
            "python_random": _python_random_state(),
            "arrays": sorted(arrays),  # what the .npz must hold: checked when it is read
        },
    )
    for old in sorted(folder.glob("epoch-*.json"))[:-KEEP]:
        old.unlink(missing_ok=True)
        old.with_suffix(".npz").unlink(missing_ok=True)


def _python_random_state():
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def available(run_path: Path) -> list[Path]:
    """Checkpoint JSON files, newest first."""
    folder = run_path / BACKUP
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _NAME.match(p.name)), reverse=True)


_STATE = {
    "epoch": int,
    "history": list,
    "epoch_seconds": list,
    "numpy_random": list,
    "python_random": list,
}


def _check_whole(state, arrays: dict, epoch: int) -> None:
    """A checkpoint that parses but lacks a part is as damaged as a truncated one."""
    if not isinstance(state, dict):
        raise ValueError("its JSON is not a mapping")
    for key, kind in _STATE.items():
        if not isinstance(state.get(key), kind):
            raise ValueError(f"its JSON has no {kind.__name__} '{key}'")
    if state["epoch"] != epoch or len(state["history"]) != epoch:
        raise ValueError("its epoch does not match its name and history")
    # Older checkpoints do not list their arrays: at least the parts every one has.
    expected = state.get("arrays") or ["model/0", "numpy_random/keys"]
    missing = [name for name in expected if name not in arrays]
    if missing:
        raise ValueError(f"its .npz lacks {', '.join(missing[:3])}")


def keep_newest(run_path: Path) -> None:
    """A finished run keeps its last checkpoint only (what continuing it starts from):
    older ones and any temporary a killed save left go."""
    newest = available(run_path)[:1]
    keep = {name for path in newest for name in (path.name, path.with_suffix(".npz").name)}
    for path in (run_path / BACKUP).iterdir() if (run_path / BACKUP).is_dir() else ():
        if path.name not in keep and path.is_file():
            path.unlink(missing_ok=True)


def load_latest(run_path: Path, warn) -> Checkpoint | None:
    """The newest readable checkpoint; a damaged one is reported and skipped.

    Returns None when there is no checkpoint at all (the run never finished an
    epoch). Raises RunDirError when checkpoints exist but none can be read:
    cbrun never silently starts over.
    """
    candidates = available(run_path)
    for path in candidates:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            # From bytes: np.load leaves its file open when the zip in it is damaged.
            data = io.BytesIO(path.with_suffix(".npz").read_bytes())
            with np.load(data, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            _check_whole(state, arrays, int(_NAME.match(path.name).group(1)))
            return Checkpoint(state["epoch"], state, arrays, path)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
            warn(
                f"checkpoint {path.stem} is damaged ({type(error).__name__}: {error}); "
                "trying the one before"
            )
    if candidates:
        raise RunDirError(
            f"{run_path / BACKUP}: no readable checkpoint ({len(candidates)} damaged); "
            "refusing to start over silently"
        )
    return None


def restore_model(checkpoint: Checkpoint, model) -> None:
    """Put the checkpoint's model and optimizer variables (and NumPy's random state) back."""
    saved = sum(1 for k in checkpoint.arrays if k.startswith("model/"))
    if saved != len(model.variables):
        raise RunDirError(
            f"{checkpoint.path}: the model has {len(model.variables)} variables, the "
            f"checkpoint {saved}: the run's config.yaml no longer builds the model it "
            "trained; put it back, or start a new run"
        )
    model_arrays = [checkpoint.arrays[f"model/{i}"] for i in range(len(model.variables))]
    for variable, array in zip(model.variables, model_arrays, strict=True):
        if tuple(variable.shape) != array.shape:
            raise RunDirError(
                f"{checkpoint.path}: variable {variable.path} is {tuple(variable.shape)} in "
                f"the model, {array.shape} in the checkpoint: the run's config.yaml no longer "
                "builds the model it trained; put it back, or start a new run"
            )
    for variable, array in zip(model.variables, model_arrays, strict=True):
        variable.assign(array)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    count = sum(1 for k in checkpoint.arrays if k.startswith("optimizer/"))
    if count != len(optimizer.variables):
        raise RunDirError(
            f"{checkpoint.path}: the optimizer has {len(optimizer.variables)} variables, the "
            f"checkpoint {count}; was the config changed?"
        )
    for index, variable in enumerate(optimizer.variables):
        variable.assign(checkpoint.arrays[f"optimizer/{index}"])
    kind, position, has_gauss, cached = checkpoint.state["numpy_random"]
    np.random.set_state((kind, checkpoint.arrays["numpy_random/keys"], position, has_gauss, cached))
    version, internal, gauss = checkpoint.state["python_random"]
    random.setstate((version, tuple(internal), gauss))


def prepare_model(checkpoint: Checkpoint, callbacks, model) -> None:
    """Before the checkpoint's variables are restored: each callback that changed the model
    itself (`prepare_model(model, state)`: UnfreezeBackbone unfroze and recompiled it) sets
    it as it was when the checkpoint was taken, so the optimizer's state meets the same
    variables."""
    saved = checkpoint.state.get("callback_states") or []
    for index, callback in enumerate(callbacks):
        if not hasattr(callback, "prepare_model") or index >= len(saved):
            continue
        if saved[index]["class"] != type(callback).__name__:
            continue
        state = callback_state.decode(saved[index]["state"], checkpoint.arrays, f"callback{index}/")
        callback.prepare_model(model, state)


def restore_callbacks(checkpoint: Checkpoint, callbacks, warn) -> None:
    """Set each callback's saved state back (call after its `on_train_begin`)."""
    saved = checkpoint.state.get("callback_states")
    if saved is None:
        warn(f"checkpoint {checkpoint.path.stem} is from an older cbrun: callbacks start fresh")
        return
    for index, callback in enumerate(callbacks):
        if index >= len(saved) or saved[index]["class"] != type(callback).__name__:
            continue
        prefix = f"callback{index}/"
        state = callback_state.decode(saved[index]["state"], checkpoint.arrays, prefix)
        callback_state.set_state(callback, state)
