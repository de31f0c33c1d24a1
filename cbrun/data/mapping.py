"""The arrays of an `.npz` read without copying them, and their pages given back.

`np.load` reads every member of an `.npz` into memory, even with `mmap_mode`. A
member stored uncompressed (`np.savez`) is one `.npy` laid out in the zip as is, so
it can be memory-mapped at its offset: nothing is read until it is used, and sweep
workers on one machine read the same pages from the page cache. A compressed member
(`np.savez_compressed`) is read into memory, as `np.load` would.

Measured (bench/own_data.py): a 240,000-image uint8 `.npz` then costs one copy of its
bytes (the uint8 tensor the input pipeline gathers from), not twelve.
"""

from __future__ import annotations

import mmap
import struct
import zipfile
from pathlib import Path

import numpy as np

from cbrun.catalog.datasets import npy_header

# A zip local file header: signature, then fixed fields; the name and extra lengths
# are its last two 16-bit fields (APPNOTE.TXT 4.3.7).
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an `.npz`: stored members memory-mapped (read-only), compressed
    ones read. Raises what `np.load` raises for a file that is not one (`OSError`,
    `ValueError`, `zipfile.BadZipFile`, `EOFError`)."""
    arrays = {}
    with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
        members = archive.infolist()
        mapped = _map(raw) if any(m.compress_type == zipfile.ZIP_STORED for m in members) else None
        for member in members:
            name = member.filename.removesuffix(".npy")
            if member.compress_type == zipfile.ZIP_STORED and member.file_size:
                arrays[name] = _mapped_member(raw, mapped, member)
            else:
                with archive.open(member) as stream:
                    arrays[name] = np.lib.format.read_array(stream, allow_pickle=False)
    return arrays


def _map(raw) -> mmap.mmap | None:
    try:
        return mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # an empty file, or one that cannot be mapped
        return None


def _mapped_member(raw, mapped: mmap.mmap | None, member: zipfile.ZipInfo) -> np.ndarray:
    """One stored `.npy` as a read-only array over the file's mapping."""
    raw.seek(member.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{member.filename}: no local header at its offset")
    raw.seek(member.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    shape, fortran, dtype = npy_header(raw)
    if dtype.hasobject:
        raise ValueError(f"{member.filename} holds Python objects (pickled), not numbers")
    count = int(np.prod(shape, dtype=np.int64))
    if mapped is None or fortran:
        order = "F" if fortran else "C"
        return np.fromfile(raw, dtype=dtype, count=count).reshape(shape, order=order)
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=raw.tell())
    return array.reshape(shape)


def release_pages(array: np.ndarray) -> None:
    """Drop the pages of the file mapping under `array` from this process's resident
    memory (the page cache keeps them; a later read maps them again). Nothing for an
    array in memory."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        # ndarray views chain by `.base`; np.frombuffer's base is a memoryview of the map
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        base.madvise(mmap.MADV_DONTNEED)


def all_finite(array: np.ndarray, rows: int = 65536) -> bool:
    """Whether every value is finite, read in slices of `rows` (no full-size mask); an
    integer array always is."""
    if not np.issubdtype(array.dtype, np.inexact):
        return True
    for start in range(0, len(array), rows):
        if not np.isfinite(array[start : start + rows]).all():
            return False
    release_pages(array)
    return True
