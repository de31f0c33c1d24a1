"""Files and folders as the user meets them: an `OSError` said in words, and the
probe that every writer runs before any work (and before TensorFlow loads).

A probe creates (and removes) a small file in the nearest existing folder of the
path, so it asks the filesystem itself: `os.access` says yes to root for a folder
`chmod` closed, and cannot see a read-only mount, a full disk or a quota.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from cbrun.errors import UsageError

# The reason in words, for the errors a user meets most; the rest use strerror.
_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted (a protected or read-only filesystem)",
    errno.EROFS: "a read-only filesystem",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.ELOOP: "a loop of symbolic links",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a file where a folder is needed",
    errno.EISDIR: "a folder where a file is needed",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EEXIST: "already exists",
    errno.EIO: "an input/output error (a failing disk?)",
}


def reason(error: OSError) -> str:
    """What went wrong, in words (`a read-only filesystem`), without the path."""
    if error.errno in _REASONS:
        return _REASONS[error.errno]
    return (error.strerror or str(error) or type(error).__name__).lower()


def describe_os_error(error: OSError) -> str:
    """`PATH: reason` (both paths for a rename), for one `Error:` line."""
    paths = [p for p in (error.filename, error.filename2) if p is not None]
    where = " -> ".join(os.fsdecode(p) if not isinstance(p, int) else f"fd {p}" for p in paths)
    return f"{where}: {reason(error)}" if where else reason(error)


def _nearest_existing(path: Path) -> Path:
    """The path itself or its nearest ancestor that exists (a symlink loop does not)."""
    probe = Path(os.path.abspath(path))
    while not os.path.lexists(probe):
        probe = probe.parent
    return probe


def probe_folder(path: str | Path, what: str, *, target: str | Path | None = None) -> Path:
    """Check that `path` is, or can be made, a folder this process can write into.

    Args:
        path: the folder (it may not exist yet: its nearest existing ancestor is probed).
        what: the option or key that named it (`--runs-dir`, `data.cache`), for the message.
        target: what the message says cannot be written (default `path`): a file in it.

    Returns:
        `path` as a `Path`.

    Raises:
        UsageError: one line naming `what`, the path that is in the way and why (exit 2).
    """
    path = Path(path)
    shown = target if target is not None else path
    base = _nearest_existing(path)
    if os.path.islink(base) and not os.path.exists(base):
        raise UsageError(f"{what}: cannot write {shown}: {base} is a broken link or a link loop")
    if not base.is_dir():
        raise UsageError(f"{what}: cannot write {shown}: {base} is a file, not a folder")
    try:
        handle, name = tempfile.mkstemp(dir=base, prefix=".cbrun-probe-")
    except OSError as error:
        raise UsageError(f"{what}: cannot write {shown}: {base}: {reason(error)}") from None
    os.close(handle)
    os.unlink(name)
    return path


def probe_file(path: str | Path, what: str) -> Path:
    """Check that the file `path` can be written (replaced if it exists): its folder
    probed as `probe_folder` does, and no folder standing where the file goes."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what}: {path} is a folder; give a file name")
    probe_folder(path.parent, what, target=path)
    return path
