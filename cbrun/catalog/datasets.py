"""What a dataset's files say about themselves before anything is loaded.

The config's cross-field rules ask these (does an `.npz` hold validation arrays?) while
the config is checked, before TensorFlow and before any data is read; `cbrun/data/` reads
the arrays themselves.
"""

from __future__ import annotations

import zipfile
from pathlib import Path


def names_in(path: Path) -> set[str]:
    """The array names an .npz file holds, read from its zip directory (no data loaded)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {name.removesuffix(".npy") for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return set()
