"""What the user reads when a command fails, for the CLI's boundary (cbrun/cli/boundary.py)
and for a sweep's forked workers alike; and where a traceback goes when no run folder
keeps it: `$XDG_CACHE_HOME/cbrun/crashes` (`~/.cache/cbrun/crashes`), one file per failure.

- A `CbrunError` (the user's input, a file, a service, a failed run): its lines as
  `Error: ...` on stderr, its own exit code (2 input, 1 a run-time failure, ...).
- An `OSError` that no check foresaw (a disk filling, a folder removed meanwhile):
  `Error: PATH: reason` in words, exit 1.
- Anything else is a bug of cbrun's: one line naming the exception and the file holding
  its whole traceback (the run folder's `crash.log` when the run kept its folder, else
  one in the crash folder), exit 1; `verbose` prints the traceback too.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from cbrun.errors import CbrunError
from cbrun.filesystem import describe_os_error

# Set on an exception by whoever wrote its traceback already (the runner, into the run
# folder it keeps): that file is named instead of writing another.
CRASH_LOG_ATTRIBUTE = "cbrun_crash_log"


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


def report_failure(error: BaseException, verbose: bool = False, offers_verbose=True) -> int:
    """Say `error` on stderr as the module docstring describes; its exit code.
    `offers_verbose`: the command has a `--verbose` option, which the line then names."""
    say = lambda line: print(f"Error: {line}", file=sys.stderr, flush=True)  # noqa: E731
    if isinstance(error, CbrunError):
        for line in str(error).splitlines() or [type(error).__name__]:
            say(line)
        return error.exit_code
    if isinstance(error, OSError):
        say(describe_os_error(error))
    else:
        log = getattr(error, CRASH_LOG_ATTRIBUTE, None) or write_crash_log(error)
        said = str(error).splitlines()[0] if str(error) else ""
        where = f"the traceback is in {log}" if log else "the traceback could not be saved"
        name = type(error).__name__ + (f": {said}" if said else "")
        hint = "; --verbose prints it" if offers_verbose else ""
        say(f"unexpected {name} (a bug in cbrun: {where}{hint})")
    if verbose:
        traceback.print_exception(type(error), error, error.__traceback__)
    return 1
