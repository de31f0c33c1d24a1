"""Where a traceback goes when no run folder keeps it: `$XDG_CACHE_HOME/cbrun/crashes`
(`~/.cache/cbrun/crashes`), one file per failure, named by time and process."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path


def crash_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cbrun" / "crashes"


def write_crash_log(error: BaseException) -> Path | None:
    """The command line and the traceback of `error` in a new file under `crash_folder()`;
    None when even that cannot be written."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    folder = crash_folder()
    path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(f"$ {' '.join(sys.argv)}\n{text}", encoding="utf-8")
    except OSError:
        return None
    return path
