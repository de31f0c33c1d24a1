"""P10: cbrun on JAX and on TensorFlow, beside plain Keras on each, for the mlp and the cnn.

Run from the project root: `make bench-backends` (or `python bench/backends.py [--rounds N]`).
Needs the full MNIST at ../shared/data/mnist.npz (skips with a message without it) and
the jax extra.

The models are cbrun's builders as a plain script writes them: mlp 784-512-512-10 with
dropout 0.2, and cnn (Conv2D 32 and 64, each with 2x2 max-pooling, Dense 128, dropout
0.25); Adam 0.001, sparse categorical crossentropy, accuracy, batch 128,
steps_per_execution 32 in every arm (cbrun's `auto` for a config without batch hooks),
full MNIST (60,000 training images), no validation, no evaluation. The plain script feeds
`x / 255.0` as float32 arrays with `shuffle=True`, as people write it; cbrun feeds its
uint8 arrays by epoch order (tf.data on TensorFlow, a PyDataset on JAX).

Each round runs the eight arms (2 models x 2 backends x cbrun/plain), each a cold
process, the order rotating. Per arm: the epoch time (the median of the epochs after the
first, which compiles) and the time from the process's start to its first epoch line on
stdout. Reported: medians over rounds, and per-round ratios' medians. Goals (issue 39):
cbrun / plain <= 1.03 on each backend; cbrun's JAX mlp epoch <= 0.6x its TensorFlow mlp
epoch; a cold JAX run's first epoch line <= 0.6x the TensorFlow run's.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
CBRUN = str(Path(sys.executable).parent / "cbrun")
EPOCHS = {"mlp": 6, "cnn": 3}

MODELS = {
    "mlp": "model: {name: mlp, args: {units: [512, 512], dropout: 0.2}}",
    "cnn": "model: {name: cnn}",
}
CONFIG = """\
name: bench-{model}-{backend}
backend: {backend}
seed: 0
data: {{dataset: mnist, source: path, path: {mnist}, flatten: {flatten}}}
{model_line}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.001}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 128, epochs: {epochs}, steps_per_execution: 32}}
evaluate: {{enabled: false}}
"""

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    os.environ["KERAS_BACKEND"] = sys.argv[1]
    import keras
    import numpy as np

    model_name, epochs = sys.argv[2], int(sys.argv[3])
    with np.load(sys.argv[4]) as data:
        x, y = data["x_train"], data["y_train"]
    x = (x / 255.0).astype("float32")
    keras.utils.set_random_seed(0)
    if model_name == "mlp":
        inputs = keras.Input((28, 28))
        h = keras.layers.Flatten()(inputs)
        for _ in range(2):
            h = keras.layers.Dense(512, activation="relu")(h)
            h = keras.layers.Dropout(0.2)(h)
    else:
        x = x[..., None]
        inputs = keras.Input((28, 28, 1))
        h = inputs
        for filters in (32, 64):
            h = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(h)
            h = keras.layers.MaxPooling2D(2)(h)
        h = keras.layers.Flatten()(h)
        h = keras.layers.Dense(128, activation="relu")(h)
        h = keras.layers.Dropout(0.25)(h)
    outputs = keras.layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.001), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=32)

    class Lines(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None):
            print(f"epoch {epoch + 1}/{epochs}  {time.perf_counter() - self.start:.3f}s",
                  flush=True)

    model.fit(x, y, batch_size=128, epochs=epochs, shuffle=True, verbose=0,
              callbacks=[Lines()])
    """
)

EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+\s+([\d.]+)s")


def _arm(argv, env) -> tuple[list[float], float]:
    """(epoch seconds, seconds from start to the first epoch line) of one cold process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    epochs, first = [], None
    for line in proc.stdout:
        found = EPOCH_LINE.match(line.strip())
        if found:
            first = first or time.perf_counter() - start
            epochs.append(float(found.group(2)))
    if proc.wait() != 0 or not epochs:
        raise SystemExit(f"benchmark command failed: {' '.join(map(str, argv))}")
    return epochs, first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="mlp,cnn")
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="cbrun-bench-backends-"))
    script = work / "plain.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", NO_COLOR="1")
    env.pop("KERAS_BACKEND", None)
    arms = {}
    for model, backend in itertools.product(args.models.split(","), ("tensorflow", "jax")):
        config = work / f"{model}-{backend}.yaml"
        config.write_text(
            CONFIG.format(
                model=model, backend=backend, mnist=MNIST, model_line=MODELS[model],
                flatten=str(model == "mlp").lower(), epochs=EPOCHS[model],
            )
        )  # fmt: skip
        runs = work / "runs"
        arms[(model, backend, "cbrun")] = [CBRUN, "train", config, "--runs-dir", runs]
        arms[(model, backend, "plain")] = [
            sys.executable, script, backend, model, EPOCHS[model], MNIST,
        ]  # fmt: skip
    names = list(arms)
    epoch, first = {n: [] for n in names}, {n: [] for n in names}
    for round_ in range(args.rounds):
        shift = round_ * 3 % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, to_first = _arm(list(map(str, arms[name])), env)
            epoch[name].append(statistics.median(seconds[1:]))
            first[name].append(to_first)
            print(
                f"round {round_ + 1} {' '.join(name):<24} epochs "
                f"{' '.join(f'{s:.2f}' for s in seconds)} s  first line {to_first:.2f} s",
                flush=True,
            )

    def ratio(a, b, of):
        return statistics.median(x / y for x, y in zip(of[a], of[b], strict=True))

    print("\n| model | backend | arm | epoch (median) | first epoch line (cold) |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        model, backend, arm = name
        med_epoch, med_first = statistics.median(epoch[name]), statistics.median(first[name])
        print(f"| {model} | {backend} | {arm} | {med_epoch:.2f} s | {med_first:.2f} s |")
    print("\n| ratio (median of per-round ratios) | value | goal |")
    print("| --- | --- | --- |")
    for model in args.models.split(","):
        for backend in ("tensorflow", "jax"):
            value = ratio((model, backend, "cbrun"), (model, backend, "plain"), epoch)
            print(f"| {model} epoch, cbrun / plain on {backend} | {value:.3f} | <= 1.03 |")
        jax, tf = (model, "jax", "cbrun"), (model, "tensorflow", "cbrun")
        goal = "<= 0.6" if model == "mlp" else "(reported)"
        rows = [
            (f"{model} epoch, cbrun jax / cbrun tensorflow", ratio(jax, tf, epoch), goal),
            (
                f"{model} first epoch line, jax / tensorflow (cbrun)",
                ratio(jax, tf, first),
                "<= 0.6",
            ),
        ]
        for label, value, wanted in rows:
            print(f"| {label} | {value:.3f} | {wanted} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
