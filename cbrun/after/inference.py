"""After training: a run's model evaluated on the test split, or asked for predictions.

Both read the run folder alone (its `config.yaml` and `model.keras`), load the
model in Keras's safe mode, and pass the callbacks whose phases include
`evaluate` or `predict`, plugins included (found where the run recorded them).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np

from cbrun.backend import load_keras, use_backend
from cbrun.build.callback_factory import build_callbacks, check_plugins
from cbrun.build.plugin_failures import explained_failures
from cbrun.config.loading import load_config
from cbrun.config.spec import RunSpec
from cbrun.data.datasets import load_configured
from cbrun.errors import UsageError
from cbrun.filesystem import probe_file
from cbrun.output.logsink import LogSink
from cbrun.output.rundir import CONFIG, EVALUATE, MODEL, RunDir
from cbrun.run.evaluation import evaluate_on_test


def open_run(target: Path, overrides=(), *, finished: bool = True) -> tuple[RunDir, RunSpec]:
    """A finished run folder and its saved config (with `--set` overrides applied)."""
    run = RunDir.open(target, finished=finished)
    # Its model.keras holds the weights: where they first came from is not read again.
    return run, load_config(run.file(CONFIG), list(overrides), resuming=True)


# What `evaluate` reads of a config; a --set elsewhere would change nothing, so it is refused.
EVALUATE_READS = ("data", "evaluate", "callbacks", "plugins", "plugin_paths", "seed", "logging")


def refuse_unread(overrides) -> None:
    """A `--set KEY=VALUE` whose key `evaluate` does not read is one line, not ignored."""
    for item in overrides:
        key = item.partition("=")[0].strip()
        top = key.split(".")[0].split("[")[0]
        if top and top not in EVALUATE_READS and "=" in item:
            raise UsageError(
                f"--set {item}: evaluate does not read {top} (the model is the saved one); "
                f"it reads {', '.join(EVALUATE_READS)}"
            )


def evaluation_target(target: Path, overrides, model):
    """A run folder (its config and model) or a config file (then --model is needed)."""
    refuse_unread(overrides)
    looks_like_config = target.is_file() or target.suffix in (".yaml", ".yml")
    if not looks_like_config:
        run, spec = open_run(target, overrides, finished=model is None)
        return run, spec, Path(model) if model else run.file(MODEL)
    if model is None:
        raise UsageError(f"{target} is a config file: give the model to evaluate with --model")
    return None, load_config(target, list(overrides)), Path(model)


def load_model(path: Path):
    """A `.keras` model loaded with Keras's safe mode on; anything else is refused."""
    path = Path(path)
    if path.suffix != ".keras":
        raise UsageError(f"{path}: only .keras models are loaded (safe mode); not {path.suffix!r}")
    if not path.is_file():
        raise UsageError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found" of a truncated one
        raise UsageError(f"{path}: not a readable .keras file (truncated or damaged: not a zip)")
    keras = load_keras()

    try:
        with warnings.catch_warnings():
            # A model trained with `use_ema` saved its optimizer's average variables, which
            # the rebuilt optimizer does not make until it trains: Keras warns that it skips
            # them. Evaluate and predict never use the optimizer; the warning is noise here.
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            return keras.models.load_model(path, safe_mode=True)
    except ValueError as error:
        if "Lambda" in str(error) or "unsafe" in str(error).lower():
            raise UsageError(
                f"{path}: the model holds a Lambda layer (Python code); refused in safe mode"
            ) from None
        raise UsageError(f"{path}: cannot load the model ({error})") from None
    except (OSError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: cannot load the model ({error})") from None


def _phase_callbacks(spec: RunSpec, run, sink, phase: str, allow_plugins, search_paths) -> list:
    """The built callbacks of one phase. No training here: a learning-rate schedule has
    nothing to start from, so it gets 0."""
    paths = [*search_paths, *map(Path, spec.plugin_paths)]
    built = build_callbacks(spec, run, 0.0, sink, allow_plugins, paths)
    return [callback for callback, phases in built if phase in phases]


def evaluate(
    spec: RunSpec,
    model_path: Path,
    *,
    sink: LogSink,
    run: RunDir | None = None,
    allow_plugins=(),
    search_paths=(),
) -> dict:
    """Evaluate a saved model on the test split with the evaluate-phase callbacks, on the
    config's backend."""
    use_backend(spec.backend)  # before the logger's module subclasses Keras's Callback
    from cbrun.run.rich_progress import RunLogger

    check_plugins(spec, allow_plugins)
    if run is not None:
        probe_file(run.file(EVALUATE), "RUN_DIR")
        run.lock()  # evaluate.json is written: not while another process writes the run
    try:
        dataset = load_configured(spec.data, sink.line, seed=spec.seed)
        model = load_model(model_path)
        phase = _phase_callbacks(spec, run, sink, "evaluate", allow_plugins, search_paths)
        with explained_failures([type(cb) for cb in phase]):
            results = evaluate_on_test(model, spec, dataset, sink, [*phase, RunLogger(sink)])
        if run is not None:
            info = dataset.info.to_dict()
            run.write_json(EVALUATE, {"model": str(model_path), "evaluate": results, "data": info})
        return results
    finally:
        if run is not None:
            run.unlock()


def prediction_item(index: int, label, output, num_classes: int | None = 10) -> dict:
    """One prediction: the class and its probability; for a single output (the guide's
    linear model, a regression on the label) the nearest class and the value; for a
    regression dataset (`num_classes` None) the value."""
    output = np.asarray(output, dtype=np.float64).reshape(-1)
    if num_classes is None:
        return {
            "index": index,
            "label": float(label),
            "prediction": float(output[0]),
            "confidence": None,
        }
    item = {"index": index, "label": int(label)}
    if output.size == 1:
        item.update(
            prediction=int(np.clip(np.rint(output[0]), 0, num_classes - 1)),
            confidence=None,
            output=float(output[0]),
        )
    else:
        item.update(
            prediction=int(output.argmax()),
            confidence=float(output.max()),
            probabilities=[float(p) for p in output],
        )
    return item


def predict(
    run: RunDir, spec: RunSpec, *, sink: LogSink, count: int, search_paths=()
) -> tuple[list, object]:
    """Predictions for the first `count` test images (and the images), with the
    predict-phase callbacks, on the run's backend."""
    use_backend(spec.backend)  # before the logger's module subclasses Keras's Callback
    from cbrun.run.rich_progress import RunLogger

    check_plugins(spec)
    dataset = load_configured(spec.data, sink.line, seed=spec.seed)
    model = load_model(run.file(MODEL))
    phase = _phase_callbacks(spec, run, sink, "predict", (), search_paths)
    images = dataset.inputs(dataset.x_test[:count])
    with explained_failures([type(cb) for cb in phase]):
        outputs = model.predict(
            images,
            batch_size=spec.evaluate.batch_size,
            verbose=0,
            callbacks=[*phase, RunLogger(sink)],
        )
    items = [
        prediction_item(index, dataset.y_test[index], output, dataset.num_classes)
        for index, output in enumerate(outputs)
    ]
    names = dataset.info.classes
    for item in items if names else ():  # an image folder's class names, by label
        item.update(label_name=names[item["label"]], prediction_name=names[item["prediction"]])
    return items, images
