"""`cbrun sweep` against KerasTuner's RandomSearch on the same search (issue 14's benchmark).

Run from the project root: `python bench/sweep_vs_kerastuner.py [--rounds N]` (needs the full
MNIST at ../shared/data/mnist.npz and `pip install keras-tuner`, a bench-only dependency).

The blog's MLP on full MNIST, Dense(units, relu) -> Dense(10, softmax), Adam, batch 64,
`validation_split: 0.1`, 3 epochs a trial, 8 trials, `units` in {32, 64, 128, 256},
`learning_rate` log-uniform in [1e-4, 1e-2], objective `val_accuracy` (each trial's best
epoch). All are timed as whole processes, alternating, round `i` seeding every arm with `i`
(the best of 8 trials depends on the draws, so one seed says little about quality): cbrun
with the random sampler and no pruning (as RandomSearch) in one process (`--jobs 1`, both
cores to TensorFlow), the same with its default workers (one per core, one thread each),
then with its defaults (TPE, median pruning from the first epoch once a quarter of the
trials finished, default workers). Prints the
medians and appends a section to BENCHMARKS.md with `--write`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
CBRUN = str(Path(sys.executable).parent / "cbrun")

KERAS_TUNER = """
import sys, numpy as np, keras, keras_tuner as kt
with np.load(sys.argv[1]) as d:
    x, y = d["x_train"].reshape(-1, 784).astype("float32") / 255, d["y_train"]
def build(hp):
    model = keras.Sequential([keras.Input((784,)),
        keras.layers.Dense(hp.Choice("units", [32, 64, 128, 256]), activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=8, seed=int(sys.argv[3]),
                        directory=sys.argv[2], project_name="bench", overwrite=True)
tuner.search(x, y, epochs=3, batch_size=64, validation_split=0.1, verbose=0)
best = tuner.oracle.get_best_trials(1)[0]
print(best.score)
"""

CONFIG = """
name: bench-sweep
seed: {seed}
data: {{dataset: mnist, source: path, path: {mnist}, validation_split: 0.1}}
model: {{name: mlp, args: {{units: [64]}}}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.001}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 64, epochs: 3}}
evaluate: {{enabled: false}}
sweep:
  objective: {{monitor: val_accuracy, mode: max}}
  sampler: {sampler}
  trials: 8
  seed: {seed}
  pruner: {pruner}
  space:
    model.args.units: {{choice: [[32], [64], [128], [256]]}}
    compile.optimizer.args.learning_rate: {{log_uniform: [1.0e-4, 1.0e-2]}}
"""


def _timed(argv, cwd) -> tuple[float, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(argv)}\n{out.stderr[-2000:]}")
    return time.perf_counter() - start, out.stdout


def _cbrun(folder: Path, seed: int, sampler: str, pruner: str, jobs: list) -> tuple[float, float]:
    config = folder / f"{sampler}.yaml"
    config.write_text(CONFIG.format(mnist=MNIST, seed=seed, sampler=sampler, pruner=pruner))
    runs = folder / f"runs-{sampler}-{time.time_ns()}"
    seconds, _ = _timed([CBRUN, "sweep", str(config), "--runs-dir", str(runs), *jobs], ROOT)
    (sweep,) = runs.iterdir()
    return seconds, json.loads((sweep / "sweep.json").read_text())["best"]["objective"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="append the figures to BENCHMARKS.md")
    rounds = parser.parse_args().rounds
    if not MNIST.is_file():
        print(f"skipped: full MNIST not found at {MNIST}")
        return 0
    arms = {
        "kerastuner": [],
        "cbrun random, --jobs 1": [],
        "cbrun random": [],
        "cbrun defaults": [],
    }
    best = {name: [] for name in arms}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for index in range(rounds):
            print(f"round {index + 1}/{rounds} ...", flush=True)
            script = folder / "kt.py"
            script.write_text(KERAS_TUNER)
            argv = [sys.executable, str(script), str(MNIST), str(folder), str(index)]
            seconds, out = _timed(argv, ROOT)
            arms["kerastuner"].append(seconds)
            best["kerastuner"].append(float(out.split()[-1]))
            for name, sampler, pruner, jobs in (
                ("cbrun random, --jobs 1", "random", "{type: none}", ["--jobs", "1"]),
                ("cbrun random", "random", "{type: none}", []),
                ("cbrun defaults", "tpe", "{}", []),
            ):
                seconds, objective = _cbrun(folder, index, sampler, pruner, jobs)
                arms[name].append(seconds)
                best[name].append(objective)
    base = statistics.median(arms["kerastuner"])
    lines = [
        "",
        "## Sweep: `cbrun sweep` against KerasTuner RandomSearch",
        "",
        f"Command: `python bench/sweep_vs_kerastuner.py --rounds {rounds}` (keras-tuner as a "
        "bench-only dependency). 8 trials x 3 epochs, full MNIST, MLP units {32, 64, 128, 256}, "
        "Adam learning rate log-uniform [1e-4, 1e-2], batch 64, validation_split 0.1, objective "
        "val_accuracy; whole processes, alternating, round i seeding every arm with i; "
        "medians over rounds. cbrun's default workers here: 2 (one per core), one "
        "TensorFlow thread each.",
        "",
        "| arm | wall (s), median | ratio to KerasTuner | best val_accuracy by seed | mean |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, times in arms.items():
        median = statistics.median(times)
        scores = ", ".join(f"{s:.4f}" for s in best[name])
        mean = statistics.mean(best[name])
        lines.append(f"| {name} | {median:.1f} | {median / base:.2f} | {scores} | {mean:.4f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if parser.parse_args().write:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
