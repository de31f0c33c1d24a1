"""How to divide the cores among `cbrun sweep` workers (the default of `--jobs`).

Run from the project root: `python bench/sweep_threads.py [--rounds N]` (needs the full MNIST
at ../shared/data/mnist.npz). The blog's MLP with the largest width of the sweep (256 units),
Adam, batch 64, `validation_split: 0.1`, steps_per_execution 32 (what cbrun picks with no
per-batch callback), 3 epochs, epochs 2-3 timed, in a plain Keras process: with TensorFlow's
default threads (all cores), with one thread, and two one-thread processes side by side.
Throughput is epochs per second over all processes. Appends to BENCHMARKS.md with `--write`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"

EPOCHS = """
import sys, time, numpy as np, tensorflow as tf, keras
threads = int(sys.argv[2])
if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
with np.load(sys.argv[1]) as d:
    x, y = d["x_train"].reshape(-1, 784).astype("float32") / 255, d["y_train"]
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              steps_per_execution=32)
times = []
class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.start)
model.fit(x, y, batch_size=64, epochs=3, validation_split=0.1, verbose=0, callbacks=[Timer()])
print(sum(times[1:]) / len(times[1:]))
"""


def _epochs(threads: int, side_by_side: int) -> float:
    """Seconds an epoch, the mean over `side_by_side` processes running together."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    argv = [sys.executable, "-c", EPOCHS, str(MNIST), str(threads)]
    processes = [
        subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        for _ in range(side_by_side)
    ]
    return statistics.mean(float(p.communicate()[0].split()[-1]) for p in processes)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="append the figures to BENCHMARKS.md")
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: full MNIST not found at {MNIST}")
        return 0
    arms = {
        "1 process, TensorFlow's default threads": (0, 1),
        "1 process, 1 thread": (1, 1),
        "2 processes side by side, 1 thread each": (1, 2),
    }
    seconds = {name: [] for name in arms}
    for index in range(args.rounds):
        print(f"round {index + 1}/{args.rounds} ...", flush=True)
        for name, (threads, side_by_side) in arms.items():
            seconds[name].append(_epochs(threads, side_by_side))
    base = statistics.median(seconds["1 process, TensorFlow's default threads"])
    lines = [
        "",
        "## Sweep workers: dividing the cores",
        "",
        f"Command: `python bench/sweep_threads.py --rounds {args.rounds}`. Plain Keras, the "
        "sweep's widest MLP (256 units), batch 64, steps_per_execution 32, full MNIST, epochs 2-3; "
        f"{os.cpu_count()} cores; medians over rounds.",
        "",
        "| arrangement | s / epoch | epochs / s, all processes | throughput vs default |",
        "| --- | --- | --- | --- |",
    ]
    for name, (_, side_by_side) in arms.items():
        median = statistics.median(seconds[name])
        rate = side_by_side / median
        lines.append(f"| {name} | {median:.3f} | {rate:.2f} | {rate * base:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
