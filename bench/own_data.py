"""Your own arrays at scale: peak memory and the wall time of a short run, cbrun / plain.

Run from the project root: `make bench-data` (or `python bench/own_data.py [--rounds N]`).
Needs the full MNIST at ../shared/data/mnist.npz; skips with a message without it.

Both arms train the same `cnn` (cbrun's builder, written out in the plain script) on an
uncompressed `.npz` of MNIST images (`np.savez`: uint8, 28x28x1), 60,000 and 240,000
training images (the second is the first four times), for 5 steps, then evaluate 5
steps and save `model.keras`. The plain script is what people write: `np.load`,
`astype("float32") / 255`, `model.fit`, `model.evaluate`, `model.save`.

P7 memory  the growth of peak RSS from 60k to 240k images over the raw bytes added.
           Target: cbrun <= 1.5x (before this benchmark existed: 12x).
P8 short   the wall time of the 5-step run at 60k, cbrun / plain. Target <= 1.15.

Each round runs both arms at both sizes, the order alternating round to round; each
figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
CBRUN = str(Path(sys.executable).parent / "cbrun")
SIZES = (60_000, 240_000)
STEPS = 5

PLAIN = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras, numpy as np

    keras.utils.set_random_seed(0)
    with np.load(sys.argv[1]) as data:
        x = data["x_train"].astype("float32") / 255.0
        y = data["y_train"].astype("int32")
        x_test = data["x_test"].astype("float32") / 255.0
        y_test = data["y_test"].astype("int32")
    inputs = keras.Input(x.shape[1:])
    h = inputs
    for filters in (32, 64):
        h = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(h)
        h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    h = keras.layers.Dropout(0.25)(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=1, steps_per_epoch=5, verbose=0)
    model.evaluate(x_test, y_test, batch_size=32, steps=5, verbose=0)
    model.save(os.path.join(sys.argv[2], "model.keras"))
    """
)

CONFIG = textwrap.dedent(
    """
    name: own-data
    seed: 0
    data: {{dataset: arrays, path: {path}}}
    model: {{name: cnn}}
    compile: {{loss: sparse_categorical_crossentropy, metrics: [accuracy]}}
    fit: {{batch_size: 32, epochs: 1, steps_per_epoch: {steps}}}
    evaluate: {{batch_size: 32, steps: {steps}}}
    """
)


def make_data(folder: Path) -> dict[int, Path]:
    """An uncompressed .npz per size, MNIST's images repeated to reach it."""
    with np.load(MNIST) as mnist:
        x, y = mnist["x_train"][..., None], mnist["y_train"]
        x_test, y_test = mnist["x_test"][..., None], mnist["y_test"]
    paths = {}
    for size in SIZES:
        times = size // len(x)
        paths[size] = folder / f"mnist-{size}.npz"
        np.savez(
            paths[size],
            x_train=np.concatenate([x] * times),
            y_train=np.concatenate([y] * times),
            x_test=x_test,
            y_test=y_test,
        )
    return paths


def measure(argv) -> tuple[float, int]:
    """(wall seconds, peak RSS in bytes) of one command; its output is discarded."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    return seconds, usage.ru_maxrss * 1024


def plain(path: Path, scratch: Path) -> tuple[float, int]:
    return measure([sys.executable, "-c", PLAIN, str(path), str(scratch)])


def cbrun(path: Path, scratch: Path) -> tuple[float, int]:
    config = scratch / "own_data.yaml"
    config.write_text(CONFIG.format(path=path, steps=STEPS))
    return measure([CBRUN, "train", str(config), "--runs-dir", str(scratch / "runs")])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    results = {(arm, size): [] for arm in ("plain", "cbrun") for size in SIZES}
    with tempfile.TemporaryDirectory() as folder:
        paths = make_data(Path(folder))
        raw = {size: size * 28 * 28 for size in SIZES}
        arms = [(arm, size) for size in SIZES for arm in ("plain", "cbrun")]
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}/{args.rounds} ...", flush=True)
            order = arms if round_ % 2 == 0 else arms[::-1]
            for arm, size in order:
                with tempfile.TemporaryDirectory(dir=folder) as scratch:
                    run = plain if arm == "plain" else cbrun
                    results[arm, size].append(run(paths[size], Path(scratch)))
    report = summarize(results, raw, args.rounds)
    print(json.dumps(report, indent=2))
    return 0


def summarize(results, raw, rounds) -> dict:
    small, large = SIZES
    added = raw[large] - raw[small]
    rss = {k: statistics.median(r for _, r in v) for k, v in results.items()}
    wall = {k: statistics.median(s for s, _ in v) for k, v in results.items()}
    p8 = statistics.median(
        c[0] / p[0] for c, p in zip(results["cbrun", small], results["plain", small], strict=True)
    )
    return {
        "rounds": rounds,
        "peak_rss_mb": {f"{arm} {size}": round(v / 1e6) for (arm, size), v in rss.items()},
        "wall_s": {f"{arm} {size}": round(v, 1) for (arm, size), v in wall.items()},
        "raw_added_mb": round(added / 1e6),
        "P7 growth over added raw bytes, cbrun": round(
            (rss["cbrun", large] - rss["cbrun", small]) / added, 2
        ),
        "P7 growth over added raw bytes, plain": round(
            (rss["plain", large] - rss["plain", small]) / added, 2
        ),
        "P8 wall of the 5-step run at 60k, cbrun / plain (median of round ratios)": round(p8, 3),
    }


if __name__ == "__main__":
    sys.exit(main())
