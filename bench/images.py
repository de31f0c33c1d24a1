"""P9: a keras.applications backbone on an image folder, cbrun against a plain Keras script.

Run from the project root: `make bench-images` (or `python bench/images.py [--rounds N]`).
Needs the full MNIST at ../shared/data/mnist.npz (skips with a message without it) and
Pillow (the dev extra).

The folder: 5,000 RGB PNG files at 96x96, ten classes, made from MNIST's first training
digits (each digit resized and tinted by its class), one folder per class. The same
model trains in each arm: MobileNetV3Small (weights null, its own preprocessing), global
average pooling, dropout 0.2, Dense(10); batch 64, Adam 0.001, 4,000 training images (the
fifth held out), 3 epochs, no evaluation.

- cbrun: `dataset: image_folder` decodes the folder once into a uint8 cache (made before
  the rounds, as any second run finds it) and feeds batches from it;
- script: `keras.utils.image_dataset_from_directory`, decoding every PNG every epoch;
- script + cache: the same with `.cache()` (decoded float32 images kept in memory after
  the first epoch).

Each round runs the three arms in a process each, the order rotating; reported: the
median over rounds of each arm's median epoch time (epochs 2 and 3: the first traces the
model and fills the script's cache) and of its peak RSS. Goals (issue 38): cbrun's epoch
<= 0.6x the uncached script's and <= 1.05x the cached one's; its peak memory <= the
cached script's.
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
IMAGES, SIZE, EPOCHS, BATCH = 5000, 96, 3, 64

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras, tensorflow as tf

    folder, cached = sys.argv[1], sys.argv[2] == "cache"
    keras.utils.set_random_seed(0)
    train = keras.utils.image_dataset_from_directory(
        folder, image_size=(96, 96), batch_size=64, validation_split=0.2,
        subset="training", seed=0)
    train = (train.cache() if cached else train).prefetch(tf.data.AUTOTUNE)
    backbone = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(96, 96, 3), include_preprocessing=True)
    inputs = keras.Input((96, 96, 3))
    x = backbone(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.001),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class Times(keras.callbacks.Callback):
        seconds = []
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    model.fit(train, epochs=3, verbose=0, callbacks=[Times()])
    print(json.dumps({"epochs": Times.seconds}))
    """
)

CONFIG = """\
name: bench-images
seed: 0
data: {{dataset: image_folder, path: {folder}, image_size: [96, 96], test_split: 0.2}}
model:
  name: MobileNetV3Small
  weights: null
  head: {{dropout: 0.2}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.001}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 64, epochs: 3}}
evaluate: {{enabled: false}}
"""


def make_folder(folder: Path) -> None:
    from PIL import Image

    tints = np.random.default_rng(0).uniform(0.3, 1.0, (10, 3))
    with np.load(MNIST) as data:
        images, labels = data["x_train"][:IMAGES], data["y_train"][:IMAGES]
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        target = folder / str(label)
        target.mkdir(parents=True, exist_ok=True)
        rgb = (image[..., None] * tints[label]).astype(np.uint8)
        Image.fromarray(rgb, "RGB").resize((SIZE, SIZE)).save(target / f"{index:05d}.png")


def _measure(argv, env) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MiB, stdout) of a command that must succeed."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark command failed: {' '.join(map(str, argv))}")
        out.seek(0)
        text = out.read().decode()
    return time.perf_counter() - start, usage.ru_maxrss // 1024, text


def cbrun_arm(config: Path, env) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as runs:
        _, rss, _ = _measure([CBRUN, "train", config, "--runs-dir", runs, "--quiet"], env)
        summary = json.loads(next(Path(runs).glob("*/summary.json")).read_text())
        return statistics.median(summary["seconds"]["epochs"][1:]), rss


def script_arm(script: Path, folder: Path, cached: bool, env) -> tuple[float, int]:
    argv = [sys.executable, script, folder, "cache" if cached else "decode"]
    _, rss, text = _measure(argv, env)
    return statistics.median(json.loads(text.strip().splitlines()[-1])["epochs"][1:]), rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="cbrun-bench-images-"))
    folder = work / "photos"
    make_folder(folder)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", XDG_CACHE_HOME=str(work / "cache"))
    config = work / "config.yaml"
    config.write_text(CONFIG.format(folder=folder))
    script = work / "plain.py"
    script.write_text(SCRIPT)
    print(
        f"{IMAGES} PNG files at {SIZE}x{SIZE} in {folder}; decoding cbrun's cache once", flush=True
    )
    with tempfile.TemporaryDirectory() as runs:  # the cache any second run finds
        subprocess.run([CBRUN, "train", config, "--runs-dir", runs, "--quiet", "--set",
                        "fit.epochs=1", "--set", "fit.steps_per_epoch=1"],
                       cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
    arms = {
        "cbrun": lambda: cbrun_arm(config, env),
        "script": lambda: script_arm(script, folder, False, env),
        "script + cache()": lambda: script_arm(script, folder, True, env),
    }
    epochs = {name: [] for name in arms}
    peaks = {name: [] for name in arms}
    names = list(arms)
    for round_ in range(args.rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            epoch, rss = arms[name]()
            epochs[name].append(epoch)
            peaks[name].append(rss)
            print(f"round {round_ + 1} {name:<16} epoch {epoch:6.2f} s  peak {rss} MiB", flush=True)
    # Per round, cbrun over each arm (the machine's speed drifts between rounds; a ratio
    # within one round does not), then the median over rounds.
    print("\n| arm | epoch (median) | peak RSS (median) | cbrun / arm: epoch | memory |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        epoch, rss = statistics.median(epochs[name]), statistics.median(peaks[name])
        ratio = statistics.median(c / a for c, a in zip(epochs["cbrun"], epochs[name], strict=True))
        memory = statistics.median(c / a for c, a in zip(peaks["cbrun"], peaks[name], strict=True))
        print(f"| {name} | {epoch:.2f} s | {rss:,} MiB | {ratio:.2f} | {memory:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
