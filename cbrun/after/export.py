"""`cbrun export RUN_DIR --format saved_model|litert|onnx`: Keras's own `model.export`,
each export loaded back in its own runtime and checked against the Keras model.

Every export runs the run's first 256 test images (a batch size the export never saw: the
batch dimension is dynamic in every format) in TensorFlow's SavedModel loader, the LiteRT
interpreter or onnxruntime. The largest absolute difference from the Keras model's
outputs and the share of equal argmaxes go to `export.json` with sizes, versions and
input signatures. Above `TOLERANCE` the export is not trusted: exit 1.

The model is loaded on the run's backend (`--backend` another: a `.keras` file is the
same on both). On JAX, Keras makes a SavedModel through jax2tf (TensorFlow is imported
for it); it makes LiteRT and ONNX files from TensorFlow only (ONNX from JAX would need
jax2onnx, which cbrun does not install), so those are refused there, in one line that
says to add `--backend tensorflow`.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from cbrun.catalog.extras import missing_extra
from cbrun.errors import CbrunError, UsageError
from cbrun.filesystem import probe_folder
from cbrun.output.rundir import MODEL, RunDir, atomic_write_json

# Outputs are float32 probabilities. Converters reorder float32 sums (fused kernels,
# XNNPACK), which moves them by about 1e-6 here (measured on the mlp and cnn); a wrong
# weight, layer or input layout moves them by 1e-2 and more. 1e-4 lies between with room
# on both sides.
TOLERANCE = 1e-4
SAMPLES = 256


@dataclass(frozen=True)
class Format:
    keras_name: str  # model.export(format=...)
    target: str  # its file or folder in the export folder
    extra: str | None  # the optional extra it needs
    packages: tuple[str, ...]  # whose versions the export records


FORMATS = {
    "saved_model": Format("tf_saved_model", "saved_model", None, ("tensorflow",)),
    "litert": Format("litert", "model.tflite", "litert", ("tensorflow", "ai-edge-litert")),
    "onnx": Format("onnx", "model.onnx", "onnx", ("tf2onnx", "onnx", "onnxruntime")),
}


# What Keras on JAX cannot export (keras/src/export: LiteRT needs TensorFlow or PyTorch;
# ONNX needs jax2onnx).
NOT_ON_JAX = ("litert", "onnx")


def check_export(run_dir: Path, formats, output: Path | None, backend: str | None = None):
    """Everything that needs no TensorFlow: a finished run with `model.keras`, known
    formats with their extras installed and on the backend, an output folder that does
    not exist yet. `(run, folder, its config, the backend the model loads on)`: `backend`,
    else the run's."""
    from cbrun.after.inference import open_run

    run = RunDir.open(Path(run_dir))
    if not run.file(MODEL).is_file():
        raise UsageError(f"{run.path}: no {MODEL} to export (the run saved no model)")
    if not formats:
        raise UsageError(f"give --format: {', '.join(FORMATS)}")
    spec = open_run(run.path)[1]
    backend = backend or spec.backend
    for name in formats:
        if name not in FORMATS:
            raise UsageError(f"--format {name}: not one of {', '.join(FORMATS)}")
        extra = FORMATS[name].extra
        if extra and (line := missing_extra(extra)):
            raise UsageError(f"--format {name} {line}")
        if backend == "jax" and name in NOT_ON_JAX:
            raise UsageError(
                f"--format {name}: Keras on jax cannot export {name} (it makes them from "
                "TensorFlow); the model file is the same on either backend: add --backend "
                "tensorflow"
            )
    folder = Path(output) if output else run.file("export")
    if folder.exists() or folder.is_symlink():
        raise UsageError(f"{folder} exists: give another -o PATH, or remove it")
    probe_folder(folder, "--output" if output else "RUN_DIR")
    return run, folder, spec, backend


def export_run(
    run_dir: Path, formats, output: Path | None = None, say=print, backend: str | None = None
) -> dict:
    """Export the run's model in each format, verify each, write `export.json`."""
    from cbrun.after.inference import load_model
    from cbrun.backend import use_backend
    from cbrun.data.datasets import load_configured

    run, folder, spec, backend = check_export(run_dir, formats, output, backend)
    use_backend(backend)
    dataset = load_configured(spec.data, lambda line: None, seed=spec.seed)
    images = dataset.inputs(dataset.x_test[:SAMPLES])
    model = load_model(run.file(MODEL))
    expected = np.asarray(model.predict(images, batch_size=SAMPLES, verbose=0))
    folder.mkdir(parents=True)
    results = {}
    for name in dict.fromkeys(formats):
        results[name] = _export_one(model, name, folder, images, expected)
        say(f"{name}: {folder / FORMATS[name].target}")
    report = {
        "run_dir": str(run.path),
        "samples": int(len(images)),
        "tolerance": TOLERANCE,
        "keras": metadata.version("keras"),
        "backend": backend,
        "formats": results,
    }
    atomic_write_json(folder / "export.json", report)
    return report


def _export_one(model, name: str, folder: Path, images, expected) -> dict:
    from cbrun.backend import native_stderr_captured

    spec = FORMATS[name]
    target = folder / spec.target
    started = time.perf_counter()
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), native_stderr_captured():
            warnings.simplefilter("ignore")  # the converters' own deprecations
            model.export(str(target), format=spec.keras_name, verbose=False)
            outputs, signature = RUNTIMES[name](target, images)
    except Exception as error:  # noqa: BLE001 - a converter's failure is one line
        raise CbrunError(f"--format {name}: the export failed: {error}") from None
    difference = float(np.max(np.abs(outputs - expected)))
    agreement = float(np.mean(outputs.argmax(-1) == expected.argmax(-1)))
    return {
        "path": str(target),
        "bytes": _size(target),
        "seconds": round(time.perf_counter() - started, 2),
        "max_abs_difference": difference,
        "argmax_agreement": agreement,
        "verified": bool(difference <= TOLERANCE),
        "input_signature": signature,
        "versions": {p: _version(p) for p in spec.packages},
    }


def _saved_model(path: Path, images):
    from cbrun.backend import load_tensorflow

    loaded = load_tensorflow().saved_model.load(str(path))
    spec = loaded.serve.input_signature[0]
    signature = {"shape": [d for d in spec.shape.as_list()], "dtype": spec.dtype.name}
    outputs = loaded.serve(images)
    return np.asarray(outputs), signature


def _litert(path: Path, images):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    (detail,) = interpreter.get_input_details()
    shape = [int(d) for d in detail["shape_signature"]]  # -1: dynamic
    interpreter.resize_tensor_input(detail["index"], list(images.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], images)
    interpreter.invoke()
    outputs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return np.asarray(outputs), {"shape": [None if d < 0 else d for d in shape], "dtype": "float32"}


def _onnx(path: Path, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    shape = [d if isinstance(d, int) else None for d in given.shape]  # a name: dynamic
    (outputs,) = session.run(None, {given.name: images})[:1]
    return np.asarray(outputs), {"shape": shape, "dtype": given.type}


RUNTIMES = {"saved_model": _saved_model, "litert": _litert, "onnx": _onnx}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def failed_formats(report: dict) -> list[str]:
    """The formats whose outputs differ from Keras's by more than the tolerance."""
    return [name for name, result in report["formats"].items() if not result["verified"]]


def report_json(report: dict) -> str:
    return json.dumps(report, indent=2)
