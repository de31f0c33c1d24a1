"""A tracking store that is down or stalls, against no tracking: the run's wall time.

Run from the project root: `make bench-tracking-faults` (or `python bench/tracking_faults.py
[--rounds N]`). Needs the full MNIST at ../shared/data/mnist.npz. The same config
(bench/mlp_full.yaml, 2 epochs: a run of a few seconds, where a stall would show most)
trains, each in a process of its own, in rotating order, with:

- `off`: no tracking;
- `silent`: MLflow at a server on 127.0.0.1 that accepts every connection and never answers;
- `gone`: MLflow at a port on 127.0.0.1 where nothing listens;
- `read-only`: MLflow on a SQLite file under /sys (a read-only mount): refused before
  anything runs (exit 2), so its time is the refusal's, not a run's.

Reported: each mode's median wall time and its ratio to `off`. Target (issue 37): a store
that is slow or down slows the run by at most 10% of the untracked run's wall time.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CBRUN, MNIST, ROOT  # noqa: E402

EPOCHS = 2


class Silent:
    """Accepts every connection on 127.0.0.1 and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.uri = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def train(uri: str | None) -> tuple[float, int]:
    """(wall seconds, exit code) of one `cbrun train`."""
    with tempfile.TemporaryDirectory() as runs:
        argv = [CBRUN, "train", "bench/mlp_full.yaml", "--runs-dir", runs, "--quiet",
                "--set", f"data.path={MNIST}", "--set", f"fit.epochs={EPOCHS}"]  # fmt: skip
        if uri:
            argv += ["--set", f"tracking.mlflow.uri={uri}"]
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        return time.perf_counter() - start, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    silent = Silent()
    modes = {
        "off": None,
        "silent": silent.uri,
        "gone": closed_port(),
        "read-only": "sqlite:////sys/cbrun-bench/mlflow.db",
    }
    times = {mode: [] for mode in modes}
    codes = {mode: set() for mode in modes}
    names = list(modes)
    for round_ in range(args.rounds):
        for mode in names[round_ % len(names) :] + names[: round_ % len(names)]:
            wall, code = train(modes[mode])
            times[mode].append(wall)
            codes[mode].add(code)
            print(f"round {round_ + 1} {mode:<9} {wall:6.2f} s  exit {code}", flush=True)
    off = statistics.median(times["off"])
    print("\n| mode | median wall | / off | exit |\n| --- | --- | --- | --- |")
    for mode in names:
        median = statistics.median(times[mode])
        exits = ",".join(map(str, sorted(codes[mode])))
        print(f"| {mode} | {median:.2f} s | {median / off:.3f} | {exits} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
