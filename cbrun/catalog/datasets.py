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

import numpy as np

# The images of the built-in datasets, as cbrun feeds them when they are not flattened.
IMAGES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1)}


def names_in(path: Path) -> set[str]:
    """The array names an .npz file holds, read from its zip directory (no data loaded)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {name.removesuffix(".npy") for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return set()


def array_headers(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """`{name: (shape, dtype)}` of each array in an .npz, from the `.npy` headers inside
    its zip (a few bytes each; no data read). Empty when the file cannot be read so.

    One config check asks several times (memory, shape, init_from): read once per
    version of the file."""
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    return dict(_headers(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=16)
def _headers(path: str, mtime_ns: int, size: int) -> dict[str, tuple[tuple, np.dtype]]:
    found = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read(stream)
                found[member.removesuffix(".npy")] = (tuple(shape), dtype)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return {}
    return found


def memory_bytes() -> int | None:
    """This machine's physical memory, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
