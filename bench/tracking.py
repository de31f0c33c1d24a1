"""Training speed with tracking on (TensorBoard and MLflow on SQLite) against off.

Run from the project root: `make bench-tracking` (or `python bench/tracking.py
[--rounds N]`). Needs the full MNIST at ../shared/data/mnist.npz. The same config
(bench/mlp_full.yaml) trains with `--track tensorboard --track mlflow` and without, in
alternating order; the ratio is the median over rounds of each round's (on / off)
median epoch time, the first epoch (tracing) left out, and of the whole run's wall time.
Target: epoch time within noise of off (<= 1.03); MLflow sends from a thread.

By default the runs share one MLflow store made before the first round (what a user has
from their second run on); `--fresh-store` gives every run a new one, whose schema MLflow
creates (several seconds of CPU, in the sender's thread, beside the first epochs).
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

EPOCHS = 5


def train(tracked: bool, store: str | None) -> tuple[list[float], float]:
    """(epoch seconds, wall seconds) of one run; `store` None: a new one in the run's."""
    with tempfile.TemporaryDirectory() as runs:
        uri = store or f"sqlite:///{runs}/mlflow.db"
        argv = [CBRUN, "train", "bench/mlp_full.yaml", "--runs-dir", runs,
                "--set", f"data.path={MNIST}", "--set", f"fit.epochs={EPOCHS}"]  # fmt: skip
        if tracked:
            argv += ["--track", "tensorboard", "--track", "mlflow",
                     "--set", f"tracking.mlflow.uri={uri}"]  # fmt: skip
        wall, _ = _run(argv)
        summary = json.loads(next(Path(runs).glob("*/summary.json")).read_text())
        return summary["seconds"]["epochs"], wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--fresh-store", action="store_true", help="a new MLflow store per run")
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    folder = tempfile.TemporaryDirectory()
    store = None if args.fresh_store else f"sqlite:///{folder.name}/mlflow.db"
    if store:
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=store).search_experiments()  # creates the schema
    epoch_ratios, wall_ratios = [], []
    for round_ in range(args.rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        results = {tracked: train(tracked, store) for tracked in order}
        (off, off_wall), (on, on_wall) = results[False], results[True]
        epoch_ratios.append(statistics.median(on[1:]) / statistics.median(off[1:]))
        wall_ratios.append(on_wall / off_wall)
        print(
            f"round {round_ + 1}: epoch on/off {epoch_ratios[-1]:.3f}, "
            f"wall on/off {wall_ratios[-1]:.3f} ({on_wall:.1f} s / {off_wall:.1f} s)",
            flush=True,
        )
    print(
        f"tracking on / off, median of {args.rounds} rounds: epoch time "
        f"{statistics.median(epoch_ratios):.3f}, wall time {statistics.median(wall_ratios):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
