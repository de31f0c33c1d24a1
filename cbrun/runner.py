"""Train, evaluate and predict from a validated `RunSpec`. No click here.

The order matters: every check that needs no TensorFlow (plugins allowed, data
readable) runs before the run directory exists, so a mistake leaves nothing
behind; TensorFlow loads only after that.
"""

from __future__ import annotations

import math
import platform
import shutil
import signal
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.table import Table

from cbrun import __version__
from cbrun.callbacks.catalog import PATH_ARGUMENTS, callback_registry
from cbrun.config import RunSpec
from cbrun.data import Dataset, load_dataset
from cbrun.errors import CbrunError, NonFiniteLossError, UsageError
from cbrun.logsink import LogSink
from cbrun.models import MODELS, build_optimizer
from cbrun.plugins import check_allowed, is_plugin_reference, load_plugin
from cbrun.registry import hooks_of
from cbrun.rundir import CONFIG, LOG, MODEL, SUMMARY, RunDir
from cbrun.schedules import build_schedule
from cbrun.tensorflow_loader import import_tensorflow

# With no callback needing every step, run this many steps per call into
# TensorFlow: measured on full MNIST with the MLP (bench/run.py), 32 gets most of
# the gain of 64 while batch lines still come often.
AUTO_STEPS_PER_EXECUTION = 32
BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")
EXIT_CODES = {
    "completed": 0,
    "stopped_early": 0,
    "nan": 3,
    "interrupted": 130,
    "terminated": 143,
    "failed": 1,
}


@dataclass
class TrainResult:
    """What `train` leaves behind."""

    run_dir: Path
    status: str
    summary: dict
    exit_code: int = 0


@dataclass
class _Stop:
    """Set by a signal handler; the run stops at the end of the current step."""

    signal_name: str | None = None
    model: object = None
    count: int = 0

    def handle(self, signum, frame):
        self.count += 1
        if self.count > 1:
            # A second Ctrl-C: stop now. Files are written atomically, so nothing tears.
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        if self.model is not None:
            self.model.stop_training = True


def versions() -> dict:
    found = {"cbrun": __version__, "python": platform.python_version()}
    for package in ("tensorflow", "keras"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _allowed_plugins(spec: RunSpec, extra) -> set[str]:
    return set(spec.plugins) | set(extra)


def check_plugins(spec: RunSpec, allow_plugins=()) -> None:
    """Refuse plugins outside the allow-list, before anything is imported."""
    registry = callback_registry()
    allowed = _allowed_plugins(spec, allow_plugins)
    for index, item in enumerate(spec.callbacks):
        if item.name not in registry and is_plugin_reference(item.name):
            try:
                check_allowed(item.name, allowed)
            except CbrunError as error:
                raise type(error)(f"callbacks[{index}].name: {error}") from None


def load_data(spec: RunSpec, sink: LogSink) -> Dataset:
    data = spec.data
    return load_dataset(
        data.dataset,
        data.source,
        Path(data.path) if data.path else None,
        flatten=data.flatten,
        limit_train=data.limit.train,
        limit_test=data.limit.test,
        announce=sink.line,
    )


def build_model(spec: RunSpec, dataset: Dataset, steps_per_execution: int = 1):
    """The compiled Keras model the config describes."""
    model_args = dict(spec.model.args)
    try:
        model = MODELS.build(
            {"name": spec.model.name, **model_args},
            input_shape=dataset.x_train.shape[1:],
            num_classes=10,
        )
    except (TypeError, ValueError) as error:
        raise UsageError(f"model: {spec.model.name}: {error}") from None
    optimizer = build_optimizer(spec.compile.optimizer.name, spec.compile.optimizer.args)
    try:
        model.compile(
            optimizer=optimizer,
            loss=spec.compile.loss,
            metrics=list(spec.compile.metrics),
            jit_compile=spec.compile.jit_compile,
            steps_per_execution=steps_per_execution,
        )
    except (TypeError, ValueError) as error:
        raise UsageError(f"compile: {error}") from None
    return model


def build_callbacks(
    spec: RunSpec, run: RunDir | None, model, sink: LogSink, allow_plugins=(), search_paths=()
) -> list[tuple]:
    """`[(callback, phases)]` for every configured callback, in config order."""
    registry = callback_registry()
    allowed = _allowed_plugins(spec, allow_plugins)
    built = []
    for index, item in enumerate(spec.callbacks):
        where = f"callbacks[{index}]"
        args = dict(item.args)
        if item.name in registry:
            cls = registry.get(item.name).load()
        else:
            cls = load_plugin(item.name, allowed, list(search_paths))
        for key in PATH_ARGUMENTS:
            if isinstance(args.get(key), str) and run is not None:
                args[key] = str(run.inside(args[key]))
        if item.name == "TensorBoard" and run is not None and "log_dir" not in args:
            args["log_dir"] = str(run.inside("logs"))
        if isinstance(args.get("schedule"), dict):
            initial = float(model.optimizer.learning_rate.numpy())
            args["schedule"] = build_schedule(args["schedule"], initial)
        try:
            callback = cls(**args)
        except (TypeError, ValueError) as error:
            raise UsageError(f"{where}: {item.name}: {error}") from None
        if hasattr(callback, "say"):
            callback.sink = sink
        built.append((callback, tuple(item.phases or ("fit",))))
    return built


def steps_per_execution(spec: RunSpec, callbacks: list[tuple]) -> tuple[int, str]:
    """The steps per execution to use, and why."""
    asked = spec.fit.steps_per_execution
    if asked != "auto":
        return asked, "set in the config"
    per_batch = sorted(
        {
            type(cb).__name__
            for cb, phases in callbacks
            if "fit" in phases and set(hooks_of(type(cb))) & set(BATCH_HOOKS)
        }
    )
    if per_batch:
        return 1, f"{', '.join(per_batch)} needs every batch hook"
    return AUTO_STEPS_PER_EXECUTION, "no callback needs every batch hook"


def evaluate_steps(spec: RunSpec, samples: int, sink: LogSink) -> int | None:
    """`evaluate.steps`, capped at the batches the test split holds (Keras warns past it)."""
    steps = spec.evaluate.steps
    available = math.ceil(samples / spec.evaluate.batch_size)
    if steps is not None and steps > available:
        sink.line(
            f"evaluate: {steps} steps asked, the test split has {available} batches of "
            f"{spec.evaluate.batch_size}; evaluating {available}"
        )
        return available
    return steps


def _history_writer(run: RunDir, logger):
    """A callback that rewrites history.csv (atomically) after each epoch."""
    import keras

    class HistoryWriter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            run.write_history(logger.history)

    return HistoryWriter()


def _summary_table(summary: dict, best: dict, run: RunDir) -> tuple[Table, str]:
    table = Table(title=f"{summary['name']}: {summary['status']}", show_header=True)
    table.add_column("")
    table.add_column("value", justify="right")
    lines = [
        f"{summary['name']}: {summary['status']} after {summary['epochs_run']} epoch(s), "
        f"{summary['seconds']['total']:.1f}s"
    ]
    for key, value in (summary.get("train") or {}).items():
        table.add_row(f"final {key}", _fmt(value))
        lines.append(f"final {key}: {_fmt(value)}")
    for key, (epoch, value) in best.items():
        table.add_row(f"best {key}", f"{_fmt(value)} (epoch {epoch + 1})")
        lines.append(f"best {key}: {_fmt(value)} (epoch {epoch + 1})")
    for key, value in (summary.get("evaluate") or {}).items():
        table.add_row(f"evaluate {key}", _fmt(value))
        lines.append(f"evaluate {key}: {_fmt(value)}")
    table.add_row("run directory", str(run.path))
    lines.append(f"run directory: {run.path}")
    return table, "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def train(
    spec: RunSpec,
    *,
    sink: LogSink,
    runs_dir: Path | None = None,
    run_dir: Path | None = None,
    allow_plugins=(),
    search_paths=(),
    log_every: int | None = None,
    verbose: bool = False,
) -> TrainResult:
    """Run `fit` then `evaluate` as the spec says, and write the run directory.

    Args:
        spec: the validated config.
        sink: where lines go.
        runs_dir: parent folder of the new run folder. Defaults to `output.runs_dir`.
        run_dir: the exact run folder (must not exist). Overrides `runs_dir`.
        allow_plugins: plugin modules allowed beyond the config's `plugins:`.
        search_paths: folders where plugin modules are looked for.
        log_every: a batch line every N steps (overrides `logging.every`).
        verbose: every batch line, and TensorFlow's own start-up messages.

    Raises:
        CbrunError: a usage mistake (exit 2) or a failure (exit 1). An interrupted,
            NaN or finished run returns a `TrainResult` with its exit code.
    """
    check_plugins(spec, allow_plugins)
    dataset = load_data(spec, sink)
    run = (
        RunDir.exact(run_dir)
        if run_dir
        else RunDir.create(Path(runs_dir or spec.output.runs_dir), spec.name)
    )
    started = time.time()
    try:
        import_tensorflow(verbose)
        import keras

        keras.utils.set_random_seed(spec.seed)
        model = build_model(spec, dataset)
        callbacks = build_callbacks(spec, run, model, sink, allow_plugins, search_paths)
    except BaseException:
        # Nothing was written yet: leave no trace of a run that never started.
        shutil.rmtree(run.path, ignore_errors=True)
        raise

    run.write_text(CONFIG, spec.to_yaml())
    sink.open_log(run.file(LOG))
    summary = {
        "status": "running",
        "name": spec.name,
        "epochs_run": 0,
        "train": None,
        "evaluate": None,
        "data": dataset.info.to_dict(),
        "seconds": {"total": 0.0, "epochs": []},
        "versions": versions(),
        "run_dir": str(run.path),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
    }
    run.write_json(SUMMARY, summary)
    try:
        return _fit_and_evaluate(
            spec, run, model, dataset, callbacks, sink, summary, log_every, verbose, started
        )
    finally:
        sink.close()


def _fit_and_evaluate(
    spec, run, model, dataset, callbacks, sink, summary, log_every, verbose, started
) -> TrainResult:
    from cbrun.callbacks.rich_progress import RunLogger

    spe, why = steps_per_execution(spec, callbacks)
    if spe != 1:
        model.compile(
            optimizer=model.optimizer,
            loss=spec.compile.loss,
            metrics=list(spec.compile.metrics),
            jit_compile=spec.compile.jit_compile,
            steps_per_execution=spe,
        )
    sink.line(f"run: {run.path}  (steps_per_execution {spe}: {why})")
    logger = RunLogger(
        sink, every=log_every or spec.logging.every, seconds=spec.logging.seconds, verbose=verbose
    )
    fit_callbacks = [cb for cb, phases in callbacks if "fit" in phases]
    eval_callbacks = [cb for cb, phases in callbacks if "evaluate" in phases]

    stop = _Stop(model=model)
    previous = {s: signal.signal(s, stop.handle) for s in (signal.SIGINT, signal.SIGTERM)}
    status, error, evaluation = "completed", None, None
    try:
        validation = spec.data.validation_split
        model.fit(
            dataset.x_train,
            dataset.y_train,
            batch_size=spec.fit.batch_size,
            epochs=spec.fit.epochs,
            steps_per_epoch=spec.fit.steps_per_epoch,
            validation_split=validation,
            validation_steps=spec.fit.validation_steps if validation else None,
            shuffle=spec.fit.shuffle,
            verbose=0,
            callbacks=[*fit_callbacks, logger, _history_writer(run, logger)],
        )
        if logger.nonfinite is not None:
            status = "nan"
        elif stop.signal_name:
            status = "interrupted" if stop.signal_name == "SIGINT" else "terminated"
        elif len(logger.history) < spec.fit.epochs:
            status = "stopped_early"
        if status in ("completed", "stopped_early") and spec.evaluate.enabled:
            evaluation = model.evaluate(
                dataset.x_test,
                dataset.y_test,
                batch_size=spec.evaluate.batch_size,
                steps=evaluate_steps(spec, len(dataset.x_test), sink),
                verbose=0,
                return_dict=True,
                callbacks=[*eval_callbacks, logger],
            )
            evaluation = {k: float(v) for k, v in evaluation.items()}
        if status != "nan":
            run.save_model(model)
    except KeyboardInterrupt:
        status = "interrupted"
    except CbrunError:
        status = "failed"
        raise
    except Exception as exc:  # noqa: BLE001 - recorded in summary.json, then re-raised
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        run.write_history(logger.history)
        last = {
            k: v for k, v in (logger.history[-1] if logger.history else {}).items() if k != "epoch"
        }
        summary.update(
            {
                "status": status,
                "epochs_run": len(logger.history),
                "train": last or None,
                "evaluate": evaluation,
                "seconds": {
                    "total": round(time.time() - started, 3),
                    "epochs": [round(s, 4) for s in logger.epoch_seconds],
                },
                "steps_per_execution": spe,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )
        if error:
            summary["error"] = error
        run.write_json(SUMMARY, summary)

    table, plain = _summary_table(summary, logger.best_epochs(), run)
    sink.show(table, plain, always=True)
    if status == "nan":
        epoch, batch, loss = logger.nonfinite
        raise NonFiniteLossError(
            f"loss became {loss} at epoch {epoch + 1}, step {batch + 1}; training stopped "
            f"and no model was saved (run: {run.path})"
        )
    if status in ("interrupted", "terminated"):
        sink.line(f"{status}: the model so far is in {run.file(MODEL)}", always=True)
    return TrainResult(run.path, status, summary, EXIT_CODES[status])
