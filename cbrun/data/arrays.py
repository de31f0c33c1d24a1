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

import zipfile
from pathlib import Path

import numpy as np

from cbrun.catalog.datasets import Unreadable, layout_problem, read_headers
from cbrun.data.mapping import all_finite, load_npz
from cbrun.errors import DataError


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the file (no pickled objects), or a `DataError` naming what is wrong."""
    try:
        read_headers(path)  # names a .npy or a text file for what it is
        arrays = load_npz(Path(path))  # stored members mapped, not read
    except Unreadable as error:
        raise DataError(f"{path}: {error}") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file of arrays ({error})") from None
    return arrays


def _values_problem(arrays: dict, split: str, regression: bool) -> str | None:
    """What is wrong with one split's values, in words, or None (the layout is checked)."""
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if not all_finite(x):
        return f"x_{split} holds NaN or infinite values"
    if regression and not all_finite(y):
        return f"y_{split} holds NaN or infinite targets"
    return None


def check_arrays(path: Path, arrays: dict, num_classes: int | None) -> int | None:
    """Refuse what cannot train; return the class count (None for a regression)."""
    problem = layout_problem({name: (a.shape, a.dtype) for name, a in arrays.items()})
    splits = [s for s in ("train", "val", "test") if f"x_{s}" in arrays]
    regression = all(np.issubdtype(arrays[f"y_{s}"].dtype, np.floating) for s in splits)
    for split in splits:
        problem = problem or _values_problem(arrays, split, regression)
    if problem:
        raise DataError(f"{path}: {problem}")
    if regression:
        return None
    largest = max(int(arrays[f"y_{s}"].max()) for s in splits)
    classes = num_classes or largest + 1
    for split in splits:
        labels = arrays[f"y_{split}"]
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= classes:
            given = f"num_classes {classes}" if num_classes else f"{classes} classes"
            raise DataError(
                f"{path}: y_{split}: labels run from {low} to {high}; {given} need 0-{classes - 1}"
            )
    return classes
