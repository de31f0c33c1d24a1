"""Child processes of a sweep: forked, dying with their parent, ending with a code.

The `--jobs` pool and its workers (`workers.py`), and a trial in a process of its own
when the space holds `backend` (`study.py`), are made here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def die_with_parent() -> None:
    """In a child: SIGKILL when its parent dies (Linux), so a killed sweep leaves no
    worker behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def fork_child(run: Callable[[], int], own_group: bool = False) -> int:
    """Fork a child that dies with this process and ends with `run()`'s code (never
    returning here); its pid. `own_group`: a process group of its own, so a terminal's
    Ctrl-C reaches this process alone, which passes it on once."""
    parent = os.getpid()
    sys.stdout.flush()  # so nothing buffered here is written twice
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        if own_group:
            os.setsid()
        die_with_parent()
        if os.getppid() == parent:  # the parent did not die before the line above
            code = run()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except Exception as error:  # noqa: BLE001 - said as the CLI says it (output/crashes.py)
        from cbrun.backend import VERBOSE_ENV
        from cbrun.output.crashes import report_failure

        code = report_failure(error, os.environ.get(VERBOSE_ENV) == "1")
    except BaseException:  # as an uncaught exception ends a process: its traceback, exit 1
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything is written (atomically, fsynced) and committed: skip TensorFlow's
        # interpreter teardown (0.5 s a process, measured), and never finalize what the
        # parent opened before the fork (its storage's connections).
        os._exit(code)


def run_in_child(run: Callable[[], int]) -> int:
    """`run()` in a forked child that dies with this process; its exit code. Ctrl-C and
    SIGTERM sent to this process are passed on to it (it stops after its epoch): in a
    process group of its own, a terminal's Ctrl-C reaches it once, from here."""
    pid = fork_child(run, own_group=True)

    def forward(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    saved = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
