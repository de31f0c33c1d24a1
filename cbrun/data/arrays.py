"""Your own arrays as a dataset: `data: {dataset: arrays, source: path, path: my.npz}`.

The `.npz` holds `x_train`, `y_train`, `x_test`, `y_test`, and optionally `x_val`,
`y_val` (then used as the validation data). Features may have any shape and any
numeric dtype; they are fed as float32, as given (no scaling). Integer labels
make a classification over `num_classes` classes (given in the config, or one
more than the largest label); float targets make a regression. Loaded with
`allow_pickle=False` and checked whole: matching lengths, finite values, labels
in range, numeric dtypes, each problem one line naming the file and the array.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from cbrun.errors import DataError

REQUIRED = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL = ("x_val", "y_val")


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the file (no pickled objects), or a `DataError` naming what is wrong."""
    try:
        data = io.BytesIO(Path(path).read_bytes())
        with np.load(data, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file of arrays ({error})") from None
    missing = [name for name in REQUIRED if name not in arrays]
    if missing:
        held = ", ".join(sorted(arrays)) or "none"
        raise DataError(f"{path}: missing arrays {', '.join(missing)} (it has {held})")
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise DataError(f"{path}: x_val and y_val go together; the file has only one of them")
    return arrays


def _numbers(array: np.ndarray) -> bool:
    return np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)


def _split_problem(arrays: dict, split: str, regression: bool) -> str | None:
    """What is wrong with one split's `x` and `y`, in words, or None."""
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    rows = arrays["x_train"].shape[1:]
    if not _numbers(x):
        return f"x_{split} has dtype {x.dtype}; features must be numbers"
    if x.ndim < 2 or len(x) == 0:
        return f"x_{split} has shape {x.shape}; expected (samples, features...)"
    if y.ndim != 1 or len(y) != len(x):
        return f"y_{split} has shape {y.shape}; expected ({len(x)},), one per x_{split} row"
    if x.shape[1:] != rows:
        return f"x_{split} has rows of shape {x.shape[1:]}, x_train {rows}"
    if not np.isfinite(x).all():
        return f"x_{split} holds NaN or infinite values"
    if regression and not np.isfinite(y).all():
        return f"y_{split} holds NaN or infinite targets"
    if not regression and not np.issubdtype(y.dtype, np.integer):
        return (
            f"y_{split} has dtype {y.dtype}; labels are integers (or every y float: a regression)"
        )
    return None


def check_arrays(path: Path, arrays: dict, num_classes: int | None) -> int | None:
    """Refuse what cannot train; return the class count (None for a regression)."""
    splits = [s for s in ("train", "val", "test") if f"x_{s}" in arrays]
    regression = all(np.issubdtype(arrays[f"y_{s}"].dtype, np.floating) for s in splits)
    for split in splits:
        problem = _split_problem(arrays, split, regression)
        if problem:
            raise DataError(f"{path}: {problem}")
    if regression:
        return None
    largest = max(int(arrays[f"y_{s}"].max()) for s in splits)
    smallest = min(int(arrays[f"y_{s}"].min()) for s in splits)
    classes = num_classes or largest + 1
    if smallest < 0 or largest >= classes:
        span = f"0-{classes - 1}"
        raise DataError(
            f"{path}: labels run from {smallest} to {largest}; {classes} classes need {span}"
        )
    return classes
