"""The one place where every command's failure becomes what the user reads.

- A `CbrunError` (the user's input, a file, a service, a failed run): its lines as
  `Error: ...` on stderr, its own exit code (2 input, 1 a run-time failure, ...).
- An `OSError` that no check foresaw (a disk filling, a folder removed meanwhile):
  `Error: PATH: reason` in words, exit 1.
- Anything else is a bug of cbrun's: one line naming the exception and the file holding
  its whole traceback (the run folder's `crash.log` when the run kept its folder, else
  one under the user cache), exit 1; `--verbose` prints the traceback too.

click's own exceptions (usage errors, `--help`, exits) pass through untouched.
"""

from __future__ import annotations

import sys
import traceback

import click

from cbrun.errors import CbrunError
from cbrun.filesystem import describe_os_error
from cbrun.output.crashes import write_crash_log

# Set on an exception by whoever wrote its traceback already (the runner, into the run
# folder it keeps): the boundary names that file instead of writing another.
CRASH_LOG_ATTRIBUTE = "cbrun_crash_log"


def verbose_asked() -> bool:
    return any(arg in ("--verbose", "-v") for arg in sys.argv[1:])


def handle(error: BaseException) -> int:
    """Say `error` on stderr as the module docstring describes; its exit code."""
    if isinstance(error, CbrunError):
        for line in str(error).splitlines() or [type(error).__name__]:
            click.echo(f"Error: {line}", err=True)
        return error.exit_code
    if isinstance(error, OSError):
        click.echo(f"Error: {describe_os_error(error)}", err=True)
        if verbose_asked():
            traceback.print_exception(type(error), error, error.__traceback__)
        return 1
    log = getattr(error, CRASH_LOG_ATTRIBUTE, None) or write_crash_log(error)
    said = str(error).splitlines()[0] if str(error) else ""
    where = f"the traceback is in {log}" if log else "the traceback could not be saved"
    click.echo(
        f"Error: unexpected {type(error).__name__}{': ' + said if said else ''} "
        f"(a bug in cbrun: {where}; --verbose prints it)",
        err=True,
    )
    if verbose_asked():
        traceback.print_exception(type(error), error, error.__traceback__)
    return 1


def is_click_own(error: BaseException) -> bool:
    """click's exceptions: usage errors, `--help`'s exit, aborts. They are click's to say."""
    return isinstance(error, (click.exceptions.ClickException, click.exceptions.Exit)) or (
        isinstance(error, click.exceptions.Abort)
    )
