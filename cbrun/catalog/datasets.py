"""What a dataset's files say about themselves before anything is loaded.

The config's cross-field rules ask these (does an `.npz` hold validation arrays?) while
the config is checked, before TensorFlow and before any data is read; `cbrun/data/` reads
the arrays themselves.
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


# The images of the built-in datasets, as cbrun feeds them when they are not flattened.
IMAGES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1)}

# The Keras layers `data.augment` takes: random, shape-keeping, any number of channels
# (each tried on 28x28x1 batches in a tf.data pipeline by tests/data/test_augment.py).
# Left out: those that change the shape (RandomCrop), need RGB (RandomHue, ...) or
# mix labels (MixUp, CutMix).
AUGMENT_LAYERS = (
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomShear",
    "RandomContrast",
    "RandomBrightness",
    "RandomErasing",
    "RandomGaussianBlur",
    "RandomElasticTransform",
    "RandomPerspective",
    "RandomInvert",
)


def names_in(path: Path) -> set[str]:
    """The array names an .npz file holds, read from its zip directory (no data loaded)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {name.removesuffix(".npy") for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return set()


REQUIRED = ("x_train", "y_train", "x_test", "y_test")
NPY_MAGIC = b"\x93NUMPY"


class Unreadable(ValueError):
    """An arrays file that cannot be read as an `.npz`; the message says why."""


def array_headers(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """`{name: (shape, dtype)}` of each array in an .npz, from the `.npy` headers inside
    its zip (a few bytes each; no data read). Empty when the file cannot be read so."""
    try:
        return read_headers(path)
    except Unreadable:
        return {}


def read_headers(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """`array_headers`, or `Unreadable` saying why the file is not an `.npz`.

    One config check asks several times (memory, shape, init_from): read once per
    version of the file."""
    try:
        stat = os.stat(path)
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from None
    return dict(_headers(str(path), stat.st_mtime_ns, stat.st_size))


def npy_header(stream) -> tuple[tuple, bool, np.dtype]:
    """`(shape, fortran_order, dtype)` of the `.npy` that `stream` is at the start of; the
    stream is left where its data begins."""
    import numpy as np  # only when a file is looked at: validate stays fast

    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    return np.lib.format.read_array_header_2_0(stream)


@functools.lru_cache(maxsize=16)
def _headers(path: str, mtime_ns: int, size: int) -> dict[str, tuple[tuple, np.dtype]]:
    found = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as stream:
                    shape, _, dtype = npy_header(stream)
                found[member.removesuffix(".npy")] = (tuple(shape), dtype)
    except zipfile.BadZipFile:
        raise Unreadable(_not_a_zip(path)) from None
    except (OSError, ValueError, EOFError, zipfile.LargeZipFile) as error:
        raise Unreadable(f"a damaged .npz ({error})") from None
    return found


def _not_a_zip(path: str) -> str:
    with open(path, "rb") as stream:
        start = stream.read(len(NPY_MAGIC))
    if start == NPY_MAGIC:
        return (
            "a single .npy array; cbrun reads an .npz of named arrays: "
            "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        )
    return "not an .npz (the zip that np.savez writes), or a truncated one"


def _kind(dtype: np.dtype) -> str | None:
    """Why a dtype cannot be fed, in words, or None when it is a real number type."""
    import numpy as np  # only when a file is looked at: validate stays fast

    if dtype.hasobject:
        return "holds Python objects (pickled, or rows of different lengths)"
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        return f"has dtype {dtype}; it must hold real numbers"
    return None


def layout_problem(arrays: dict[str, tuple[tuple, np.dtype]]) -> str | None:
    """What is wrong with the arrays' names, shapes and dtypes, in words, or None.

    Asked of the headers while the config is checked and of the arrays once loaded, so
    both say the same; values (finite, label range) are checked once loaded."""
    import numpy as np  # only when a file is looked at: validate stays fast

    missing = [name for name in REQUIRED if name not in arrays]
    if missing:
        held = ", ".join(sorted(arrays)) or "none"
        return f"missing arrays {', '.join(missing)} (it has {held})"
    if ("x_val" in arrays) != ("y_val" in arrays):
        return "x_val and y_val go together; the file has only one of them"
    splits = [s for s in ("train", "val", "test") if f"x_{s}" in arrays]
    for name in [f"{axis}_{split}" for split in splits for axis in "xy"]:
        problem = _kind(arrays[name][1])
        if problem:
            return f"{name} {problem}"
    regression = all(np.issubdtype(arrays[f"y_{s}"][1], np.floating) for s in splits)
    rows = arrays["x_train"][0][1:]
    for split in splits:
        (x_shape, _), (y_shape, y_dtype) = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x_shape) < 2 or x_shape[0] == 0:
            return f"x_{split} has shape {x_shape}; expected (samples, features...)"
        if len(y_shape) != 1 or y_shape[0] != x_shape[0]:
            return f"y_{split} has shape {y_shape}; expected ({x_shape[0]},), one per x_{split} row"
        if x_shape[1:] != rows:
            return f"x_{split} has rows of shape {x_shape[1:]}, x_train {rows}"
        if not regression and not np.issubdtype(y_dtype, np.integer):
            return (
                f"y_{split} has dtype {y_dtype}; labels are integers "
                "(or every y float: a regression)"
            )
    return None


def memory_bytes() -> int | None:
    """This machine's physical memory, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
