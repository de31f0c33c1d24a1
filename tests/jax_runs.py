"""Runs on Keras's JAX backend, in an interpreter of their own (tests/run/test_jax.py).

`python tests/jax_runs.py WORK` trains, in this one process, all with `backend: jax`:
mirrored as Keras's DataParallel over two CPU devices beside one device; own arrays
(augmented, class-weighted, mixed precision, EMA); an image folder with a backbone
fine-tuned; every other callback of the registry in one run; evaluates and predicts a
run; and last a run that writes TensorBoard files and an export to SavedModel, the
things here that need TensorFlow itself.
It prints one JSON line: each run's status and backend, and the TensorFlow modules the
process had loaded before that last run (none is the point) and after it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["backend=jax", "data.limit.train=600", "data.limit.test=100", "fit.epochs=2"]

ARRAYS = """\
name: own-arrays
backend: jax
data: {dataset: arrays, path: own.npz, validation_split: 0.2, augment: [RandomFlip]}
model: {name: cnn, args: {filters: [4], dense: 8}}
compile:
  optimizer: {name: adam, args: {use_ema: true}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
  dtype_policy: mixed_float16
fit: {epochs: 2, batch_size: 16, steps_per_execution: 4, class_weight: balanced}
callbacks:
  - SwapEMAWeights
"""

# Every callback of the registry that needs no backbone or TensorFlow, in one run: the
# guide's and the blog's ports, and Keras's own (SwapEMAWeights is in ARRAYS,
# UnfreezeBackbone in BACKBONE, TensorBoard in the last run).
EVERY_CALLBACK = """\
name: every-callback
backend: jax
data: {dataset: mnist, source: bundled, limit: {train: 600, test: 100}, validation_split: 0.2}
model: {name: mlp, args: {units: [16]}}
compile:
  optimizer: {name: adam, args: {learning_rate: 0.01}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {batch_size: 64, epochs: 3}
callbacks:
  - BatchTimestamps
  - LossAndErrorPrinting
  - {name: CustomCallback, phases: [fit, evaluate, predict]}
  - {name: EarlyStopping, args: {monitor: val_loss, patience: 5}}
  - {name: EarlyStoppingAtMinLoss, args: {patience: 5}}
  - {name: ScheduledLearningRate, args: {table: [[1, 0.005]]}}
  - {name: ReduceLROnPlateau, args: {monitor: val_loss, patience: 1}}
  - {name: ModelCheckpoint, args: {filepath: best.keras, monitor: val_loss, save_best_only: true}}
  - {name: CSVLogger, args: {filename: epochs.csv}}
  - TerminateOnNaN
  - {name: LearningRateScheduler, args: {schedule: {type: step, every: 2, factor: 0.5}}}
"""

BACKBONE = """\
name: folder-backbone
backend: jax
data: {dataset: image_folder, path: photos, image_size: [32, 32], test_split: 0.25,
       cache: cache}
model:
  name: MobileNetV3Small
  args: {alpha: 0.75, minimalistic: true}
  weights: null
  freeze: true
compile: {optimizer: adam, loss: sparse_categorical_crossentropy}
fit: {epochs: 2, batch_size: 4}
callbacks:
  - {name: UnfreezeBackbone, args: {at_epoch: 1}}
"""


def _images(folder: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (folder / label).mkdir(parents=True)
        for index in range(8):
            pixels = rng.integers(0, 255, (40, 36, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / label / f"{index}.png")


def main(work: Path) -> dict:
    from cbrun import api

    runs, report = work / "runs", {"runs": {}}

    def record(run) -> dict:
        summary = json.loads((Path(run.run_dir) / "summary.json").read_text())
        report["runs"][summary["name"]] = [run.status, summary["backend"]]
        return summary

    # First, as JAX reads the host's device count once: mirrored as Keras's DataParallel
    # over two CPU devices, beside the same run on one.
    config = ROOT / "configs" / "mnist_mlp.yaml"
    mirrored = ["distribute.strategy=mirrored", "distribute.logical_devices=2"]
    for name, extra in (("data-parallel", mirrored), ("one-device", [])):
        run = api.train(config, [*SMALL, f"name={name}", "fit.batch_size=64", *extra],
                        runs_dir=runs)  # fmt: skip
        report[name] = record(run)["distribute"]
        report[name]["history"] = (Path(run.run_dir) / "history.csv").read_text()

    rng = np.random.default_rng(1)
    np.savez(
        work / "own.npz",
        x_train=rng.integers(0, 255, (96, 12, 12, 1), dtype=np.uint8),
        y_train=np.arange(96) % 3,
        x_test=rng.integers(0, 255, (24, 12, 12, 1), dtype=np.uint8),
        y_test=np.arange(24) % 3,
    )
    (work / "own.yaml").write_text(ARRAYS)
    own = api.train(work / "own.yaml", runs_dir=runs)
    record(own)
    _images(work / "photos")
    (work / "backbone.yaml").write_text(BACKBONE)
    record(api.train(work / "backbone.yaml", runs_dir=runs))
    report["evaluate"] = api.evaluate(own.run_dir)
    report["predict"] = len(api.predict(own.run_dir, count=3))
    (work / "every.yaml").write_text(EVERY_CALLBACK)
    record(api.train(work / "every.yaml", runs_dir=runs))
    report["tensorflow_before"] = _tensorflow_modules()
    # Keras's TensorBoard callback and cbrun's TensorBoard tracker: TensorFlow, quietly.
    keras_tensorboard = "callbacks=[{name: TensorBoard, args: {log_dir: keras_tensorboard}}]"
    tensorboard = [*SMALL, "name=tracked", "tracking.tensorboard=true", keras_tensorboard]
    record(api.train(ROOT / "configs" / "early_stop.yaml", tensorboard, runs_dir=runs))
    report["tensorflow_after"] = _tensorflow_modules()
    from cbrun.after.export import export_run  # SavedModel through jax2tf, verified

    report["export"] = export_run(own.run_dir, ["saved_model"], say=lambda line: None)
    report["keras_backend"] = sys.modules["keras"].backend.backend()
    return report


def _tensorflow_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] == "tensorflow")


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
