"""`cbrun sweep --jobs N`: N worker processes on one study, the cores divided among them.

Each worker is `python -m cbrun.sweep.workers`, a `Sweep.run` on the same folder and
storage; Optuna's storage hands out the trials and `Sweep._claim` keeps the total
exact. The parent imports neither TensorFlow nor Keras: it starts the workers, passes
Ctrl-C and SIGTERM on to them (each stops after its current epoch, resumable), and
writes the end. A worker dies with its parent, so `kill -9` of the sweep leaves
interrupted trials for `--resume`, never orphans that go on training.

Why one worker per core, one TensorFlow thread each, by default (BENCHMARKS.md,
"Sweep workers: dividing the cores", `python bench/sweep_threads.py`): on this 2-core
machine the blog's MLP with 256 units trains an epoch in 1.05 s on one thread and in
1.05 s on both (batch 64 is too small a matrix to share), and two one-thread
processes side by side take 1.38 s an epoch each: 1.5x the epochs per second.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys


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


def _die_with_parent() -> None:
    """In the child: its own process group (the parent alone forwards Ctrl-C, once), and
    SIGKILL when the parent dies (Linux), so a killed sweep leaves no worker behind."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_workers(sweep, jobs: int, interrupted: list[int]) -> int:
    """Run `sweep` in `jobs` worker processes, the `interrupted` trials shared out among
    them first; the exit code (the first failing worker's)."""
    threads = threads_per_job(jobs)
    sweep.sink.line(f"{jobs} workers, {threads} TensorFlow thread(s) each", always=True)
    workers = []
    for index in range(jobs):
        argv = [
            sys.executable, "-m", "cbrun.sweep.workers", str(sweep.folder),
            "--storage", sweep.storage, "--study", sweep.name,
            "--trials", str(sweep.target), "--threads", str(threads),
            "--continue", ",".join(str(n) for n in interrupted[index::jobs]),
        ]  # fmt: skip
        workers.append(subprocess.Popen(argv, preexec_fn=_die_with_parent))

    def forward(signum, frame):
        for worker in workers:
            if worker.poll() is None:
                os.kill(worker.pid, signum)

    saved = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        sweep.write()  # meanwhile the workers import TensorFlow
        codes = [worker.wait() for worker in workers]
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    sweep.write()
    failed = next((code for code in codes if code), 0)
    if failed in (130, 143) or failed < 0:
        return sweep.say_stopped("interrupted", failed if failed > 0 else 130)
    if not failed:
        sweep.say_end()
    return failed


def main(argv=None) -> int:
    """A worker: `python -m cbrun.sweep.workers SWEEP_DIR --storage URL --study NAME ...`."""
    from cbrun.errors import CbrunError
    from cbrun.output.logsink import LogSink, make_console
    from cbrun.sweep.study import Sweep

    parser = argparse.ArgumentParser(prog="cbrun.sweep.workers")
    parser.add_argument("folder")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--continue", dest="resume", default="")
    args = parser.parse_args(argv)
    try:
        sink = LogSink(make_console())
        sweep = Sweep(args.folder, storage=args.storage, study=args.study, sink=sink)
        sweep.target = args.trials
        resume = [int(n) for n in args.resume.split(",") if n]
        return sweep.run(continue_trials=resume, threads=args.threads, worker=True)
    except CbrunError as error:
        for line in str(error).splitlines():
            print(f"Error: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once (files are written atomically)
        return 130


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written (atomically, fsynced) and committed: skip TensorFlow's
    # interpreter teardown, measured at 0.5 s a process, which the sweep would wait for.
    os._exit(code)
