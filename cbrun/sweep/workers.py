"""`cbrun sweep --jobs N`: N worker processes on one study, the cores divided among them.

The parent imports neither TensorFlow nor Keras. It starts one pool process,
`python -m cbrun.sweep.workers`, which imports TensorFlow once and forks the N workers:
each a `Sweep.run` on the same folder and storage; Optuna's storage hands out the
trials and `Sweep._claim` keeps the total exact. N workers thus pay for one
`import tensorflow` (about 5 CPU-seconds here) and share its pages, where each used to
import it again: two workers training measured 993 MB of proportional set size, pool
included, against 1,157 MB as two separate imports. Ctrl-C and SIGTERM go parent ->
pool -> workers (each stops after its current epoch, resumable); the parent writes the
end. The pool dies with the parent and each worker with the pool, so `kill -9` of the
sweep leaves interrupted trials for `--resume`, never orphans that go on training.

Why one worker per core, one TensorFlow thread each, by default (BENCHMARKS.md,
"Sweep workers: dividing the cores", `python bench/sweep_threads.py`): on this 2-core
machine the blog's MLP with 256 units trains an epoch in 1.05 s on one thread and in
1.05 s on both (batch 64 is too small a matrix to share), and two one-thread
processes side by side take 1.38 s an epoch each: 1.5x the epochs per second.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import traceback


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


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _die_with_parent() -> None:
    """In a child: SIGKILL when its parent dies (Linux), so a killed sweep leaves no
    worker behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _own_group_dying_with_parent() -> None:
    """The pool's own process group (the parent alone forwards Ctrl-C, once), and death
    with the parent."""
    os.setsid()
    _die_with_parent()


def run_workers(sweep, jobs: int, interrupted: list[int]) -> int:
    """Run `sweep` in `jobs` worker processes, the `interrupted` trials shared out among
    them first; the exit code (the first failing worker's)."""
    threads = threads_per_job(jobs)
    sweep.sink.line(f"{jobs} workers, {threads} TensorFlow thread(s) each", always=True)
    argv = [
        sys.executable, "-m", "cbrun.sweep.workers", str(sweep.folder),
        "--storage", sweep.storage, "--study", sweep.name,
        "--trials", str(sweep.target), "--threads", str(threads), "--jobs", str(jobs),
        "--continue", ",".join(str(n) for n in interrupted),
    ]  # fmt: skip
    pool = subprocess.Popen(argv, preexec_fn=_own_group_dying_with_parent)

    def forward(signum, frame):
        if pool.poll() is None:
            os.kill(pool.pid, signum)

    saved = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        sweep.write()  # meanwhile the pool imports TensorFlow
        failed = pool.wait()
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
    from cbrun.tensorflow_loader import import_tensorflow

    import_tensorflow()
    import cbrun.run.runner  # noqa: F401
    import cbrun.sweep.study  # noqa: F401


def _work(args, resume: list[int]) -> int:
    """One worker: `Sweep.run` on the shared folder and storage; its exit code."""
    from cbrun.errors import CbrunError
    from cbrun.output.logsink import LogSink, make_console
    from cbrun.sweep.study import Sweep

    try:
        sink = LogSink(make_console())
        sweep = Sweep(args.folder, storage=args.storage, study=args.study, sink=sink)
        sweep.target = args.trials
        return sweep.run(continue_trials=resume, threads=args.threads, worker=True)
    except CbrunError as error:
        for line in str(error).splitlines():
            print(f"Error: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once (files are written atomically)
        return 130


def _fork_worker(args, resume: list[int]) -> int:
    """Fork one worker; in the child, work and end (never return)."""
    pool = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _die_with_parent()
        if os.getppid() == pool:  # the pool did not die before the line above
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            code = _work(args, resume)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # as an uncaught exception ends a process: its traceback, exit 1
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Everything is written (atomically, fsynced) and committed: skip TensorFlow's
        # interpreter teardown, measured at 0.5 s a process, which the sweep would wait for.
        os._exit(code)


def main(argv=None) -> int:
    """The pool: `python -m cbrun.sweep.workers SWEEP_DIR --storage URL --study NAME
    --jobs N ...` imports TensorFlow once, forks N workers, passes Ctrl-C and SIGTERM on to
    them, and ends with the first failing worker's code (by its signal, if one killed it)."""
    parser = argparse.ArgumentParser(prog="cbrun.sweep.workers")
    parser.add_argument("folder")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--continue", dest="resume", default="")
    args = parser.parse_args(argv)
    resume = [int(n) for n in args.resume.split(",") if n]
    # Held back while TensorFlow loads and the workers are forked, then passed on to them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    _load_once()
    workers = [_fork_worker(args, resume[index :: args.jobs]) for index in range(args.jobs)]

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


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
