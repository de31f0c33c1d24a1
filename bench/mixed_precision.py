"""The `cnn` on full MNIST with compile.dtype_policy float32 against mixed_bfloat16.

Run from the project root: `python bench/mixed_precision.py [--rounds N] [--epochs E]`.
Needs the full MNIST at ../shared/data/mnist.npz. Each round trains both policies (order
alternating); reported: the median epoch time after the first (tracing) epoch, the ratio
bf16 / f32, and each run's test accuracy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CBRUN, MNIST, _run  # noqa: E402

POLICIES = ("float32", "mixed_bfloat16")


def train(policy: str, epochs: int) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as runs:
        argv = [CBRUN, "train", "bench/mlp_full.yaml", "--runs-dir", runs,
                "--set", f"data.path={MNIST}", "--set", "model={name: cnn}",
                "--set", f"fit.epochs={epochs}", "--set", "fit.batch_size=128",
                "--set", "evaluate.enabled=true",
                "--set", f"compile.dtype_policy={policy}"]  # fmt: skip
        _run(argv)
        summary = json.loads(next(Path(runs).glob("*/summary.json")).read_text())
        return summary["seconds"]["epochs"], summary["evaluate"]["accuracy"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    ratios = []
    for round_ in range(args.rounds):
        order = POLICIES if round_ % 2 == 0 else POLICIES[::-1]
        found = {policy: train(policy, args.epochs) for policy in order}
        times = {p: statistics.median(found[p][0][1:] or found[p][0]) for p in POLICIES}
        ratios.append(times["mixed_bfloat16"] / times["float32"])
        for policy in POLICIES:
            print(f"round {round_ + 1} {policy}: epoch {times[policy]:.1f} s, "
                  f"test accuracy {found[policy][1]:.4f}", flush=True)  # fmt: skip
    print(f"mixed_bfloat16 / float32 epoch time, median of {args.rounds}: "
          f"{statistics.median(ratios):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
