"""The one place where every command's failure becomes what the user reads: the words
and exit codes are `cbrun/output/crashes.py`'s (a sweep's workers say theirs the same
way); click's own exceptions (usage errors, `--help`, exits) pass through untouched.
"""

from __future__ import annotations

import sys

import click

from cbrun.output.crashes import report_failure


def verbose_asked() -> bool:
    return any(arg in ("--verbose", "-v") for arg in sys.argv[1:])


def handle(error: BaseException, command: click.Command | None = None) -> int:
    """Say `error` on stderr (`report_failure`, `--verbose` from the command line); its
    exit code. `command`: the one that failed (whether it offers `--verbose`)."""
    offers = command is None or any(
        "--verbose" in param.opts for param in command.params if isinstance(param, click.Option)
    )
    return report_failure(error, verbose_asked(), offers)


def is_click_own(error: BaseException) -> bool:
    """click's exceptions: usage errors, `--help`'s exit, aborts. They are click's to say."""
    return isinstance(error, (click.exceptions.ClickException, click.exceptions.Exit)) or (
        isinstance(error, click.exceptions.Abort)
    )
