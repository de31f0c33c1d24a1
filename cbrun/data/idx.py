"""MNIST's IDX files (LeCun's format): the four a folder holds, each read and checked.

An IDX file is a magic number (two zero bytes, the type 0x08 for unsigned bytes, the
number of dimensions), each dimension as a big-endian 32-bit size, then the data.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from cbrun.errors import DataError

# IDX file names, as LeCun's site and Keras's Fashion-MNIST cache spell them.
IDX_NAMES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def find_idx(folder: Path, split: str) -> Path:
    for stem in IDX_NAMES[split]:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(f"{folder}: no {IDX_NAMES[split][0]}[.gz] in this folder")


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not) as an unsigned-byte array."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    dims = raw[3]
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(raw) != header + int(np.prod(shape)):
        raise DataError(f"{path}: size does not match its header's shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
