"""Epoch time of this tree against an earlier commit, same config, alternating.

python bench/before_after.py REV [--config bench/mlp_full.yaml] [--rounds 3] [--epochs 4]

Checks REV out into a temporary git worktree and runs `cbrun train CONFIG` with that
tree first on PYTHONPATH, then with this one, round after round (the order alternating).
Prints each round's ratio of median epoch times (first epoch left out), now / before,
and their median. Needs the full MNIST at ../shared/data/mnist.npz.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def epochs_of(tree: Path, config: str, epochs: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as runs:
        argv = [sys.executable, "-m", "cbrun", "train", config, "--runs-dir", runs]
        argv += ["--set", f"data.path={MNIST}", "--set", f"fit.epochs={epochs}"]
        subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
        summary = json.loads(next(Path(runs).glob("*/summary.json")).read_text())
    return summary["seconds"]["epochs"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--config", default="bench/mlp_full.yaml")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(before), args.rev],
            cwd=ROOT,
            check=True,
        )
        try:
            ratios = []
            for round_ in range(args.rounds):
                arms = [("before", before), ("now", ROOT)]
                times = {
                    name: epochs_of(tree, args.config, args.epochs)
                    for name, tree in (arms if round_ % 2 == 0 else arms[::-1])
                }
                ratios.append(
                    statistics.median(times["now"][1:]) / statistics.median(times["before"][1:])
                )
                print(
                    f"round {round_ + 1}: now {times['now']} before {times['before']} "
                    f"ratio {ratios[-1]:.3f}",
                    flush=True,
                )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False
            )
    print(
        json.dumps(
            {
                "rev": args.rev,
                "config": args.config,
                "ratios": [round(r, 3) for r in ratios],
                "median now / before": round(statistics.median(ratios), 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
