"""`cbrun sweep --jobs N`: N worker processes on one study, the cores divided among them.

The parent imports neither TensorFlow nor Keras. It forks one pool process, which
imports TensorFlow once and forks the N workers: each a `Sweep.run` on the same folder
and storage; Optuna's storage hands out the trials and `Sweep._claim` keeps the total
exact. N workers thus pay for one `import tensorflow` (about 5 CPU-seconds here) and
share its pages, where each used to import it again: two workers training measured
993 MB of proportional set size, pool included, against 1,157 MB as two separate
imports. The pool is forked, not started as `python -m`: it starts with cbrun, click and
Optuna already imported (0.5 s of a new interpreter's), and with TensorFlow too where
the parent had it (a test's process forked from a warm one). Ctrl-C and SIGTERM go
parent -> pool -> workers (each stops after its current epoch, resumable); the parent
writes the end. The pool dies with the parent and each worker with the pool, so `kill
-9` of the sweep leaves interrupted trials for `--resume`, never orphans that go on
training.

Why one worker per core, one TensorFlow thread each, by default (BENCHMARKS.md,
"Sweep workers: dividing the cores", `python bench/sweep_threads.py`): on this 2-core
machine the blog's MLP with 256 units trains an epoch in 1.05 s on one thread and in
1.05 s on both (batch 64 is too small a matrix to share), and two one-thread
processes side by side take 1.38 s an epoch each: 1.5x the epochs per second.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from dataclasses import dataclass

from cbrun.sweep.processes import STOP_SIGNALS, fork_child


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_jobs(trials: int) -> int:
    return max(1, min(cores(), trials))


def threads_per_job(jobs: int) -> int:
    return max(1, cores() // jobs)


@dataclass(frozen=True)
class PoolOrder:
    """What the pool's workers run: the sweep folder and study, the trial target, the
    TensorFlow threads of each, and the interrupted trials to continue first."""

    folder: str
    storage: str
    study: str
    trials: int
    threads: int
    jobs: int
    resume: tuple[int, ...] = ()
    preload: bool = True  # Keras imported once in the pool; not when trials take a process each


def run_workers(sweep, jobs: int, interrupted: list[int]) -> int:
    """Run `sweep` in `jobs` worker processes, the `interrupted` trials shared out among
    them first; the exit code (the first failing worker's)."""
    threads = threads_per_job(jobs)
    sweep.sink.line(f"{jobs} workers, {threads} TensorFlow thread(s) each", always=True)
    order = PoolOrder(
        str(sweep.folder), sweep.storage, sweep.name, sweep.target, threads, jobs,
        tuple(interrupted), not sweep.trial_processes,
    )  # fmt: skip
    # Held back until `forward` is in place here; the pool holds them until its workers are.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    reaped, saved = False, {}

    def forward(signum, frame):
        if not reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pool, signum)

    try:
        pool = fork_child(functools.partial(_pool, order), own_group=True)
        saved = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    try:
        sweep.write()  # meanwhile the pool imports TensorFlow
        failed = os.waitstatus_to_exitcode(os.waitpid(pool, 0)[1])
        reaped = True
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    sweep.write()
    if failed in (130, 143) or failed < 0:
        return sweep.say_stopped("interrupted", failed if failed > 0 else 130)
    if not failed:
        sweep.say_end()
    return failed


def _load_once() -> None:
    """In the pool, before any fork: TensorFlow (quietly, frozen out of the collector)
    and the modules a trial runs. No op runs and no thread starts here, so each forked
    worker sets its own thread counts and starts TensorFlow's runtime afresh."""
    from cbrun.backend import import_keras

    import_keras()
    import cbrun.run.runner  # noqa: F401
    import cbrun.sweep.study  # noqa: F401


def _work(order: PoolOrder, resume: tuple[int, ...]) -> int:
    """One worker: `Sweep.run` on the shared folder and storage; its exit code."""
    from cbrun.errors import CbrunError
    from cbrun.output.logsink import LogSink, make_console
    from cbrun.sweep.study import Sweep

    try:
        sink = LogSink(make_console())
        sweep = Sweep(order.folder, storage=order.storage, study=order.study, sink=sink)
        sweep.target = order.trials
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return sweep.run(continue_trials=list(resume), threads=order.threads, worker=True)
    except CbrunError as error:
        for line in str(error).splitlines():
            print(f"Error: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once (files are written atomically)
        return 130


def _pool(order: PoolOrder) -> int:
    """The pool: imports TensorFlow once, forks the workers, passes Ctrl-C and SIGTERM on
    to them, and ends with the first failing worker's code (by its signal, if one killed
    it). Stop signals arrive blocked (`run_workers`) and stay so until `forward` is set."""
    if order.preload:
        _load_once()
    workers = [
        fork_child(functools.partial(_work, order, order.resume[index :: order.jobs]))
        for index in range(order.jobs)
    ]

    def forward(signum, frame):
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in workers]
    failed = next((code for code in codes if code), 0)
    if failed < 0:  # as the worker ended: by its signal (SIGKILL's handler cannot be set)
        with contextlib.suppress(OSError, ValueError):
            signal.signal(-failed, signal.SIG_DFL)
        os.kill(os.getpid(), -failed)
    return failed
