"""Train, evaluate and predict from a validated `RunSpec`. No click here.

The order matters: every check that needs no TensorFlow (plugins allowed, data
readable) runs before the run directory exists, so a mistake leaves nothing
behind; TensorFlow loads only after that.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.table import Table

from cbrun import __version__, checkpoints
from cbrun.callbacks.catalog import PATH_ARGUMENTS, callback_registry
from cbrun.config import RunSpec, load_config
from cbrun.data import Dataset, load_dataset
from cbrun.distribute import make_strategy
from cbrun.errors import (
    CbrunError,
    NonFiniteLossError,
    PluginFailed,
    RunDirError,
    RunInterrupted,
    TrainingFailed,
    UsageError,
)
from cbrun.logsink import LogSink
from cbrun.migration import explain_plugin_failure
from cbrun.models import MODELS, build_optimizer
from cbrun.multi_worker import adapt as adapt_for_multi_worker
from cbrun.multi_worker import cluster_from_env
from cbrun.plugins import (
    check_allowed,
    check_plugin_arguments,
    ensure_callback_class,
    explained_failures,
    is_plugin_reference,
    legacy_findings,
    load_plugin,
    plugin_source_files,
)
from cbrun.registry import hooks_of
from cbrun.rundir import CONFIG, EVALUATE, LOG, MODEL, SUMMARY, TRACE, RunDir
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
    tracer: object = None  # the HookTracer, when the run was traced


@dataclass
class _Stop:
    """Set by a signal handler; the run stops at the end of the current step.

    A second signal stops at once (KeyboardInterrupt), except inside `hold()`,
    which finishes what it guards first: the summary is never left stale.
    """

    signal_name: str | None = None
    model: object = None
    count: int = 0
    holding: bool = False
    pending: bool = False

    def handle(self, signum, frame):
        self.count += 1
        if self.count > 1:
            if self.holding:
                self.pending = True
                return
            # Files are written atomically, so stopping anywhere tears nothing.
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        if self.model is not None:
            self.model.stop_training = True

    @contextlib.contextmanager
    def hold(self):
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending:
            raise KeyboardInterrupt


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


def check_plugins(spec: RunSpec, allow_plugins=()) -> list[str]:
    """Refuse plugins outside the allow-list, before anything is imported.

    Returns:
        The `module:Class` of every plugin callback the config uses.
    """
    registry = callback_registry()
    allowed = _allowed_plugins(spec, allow_plugins)
    references = []
    for index, item in enumerate(spec.callbacks):
        if item.name in registry:
            if registry.get(item.name).origin == "plugin":
                references.append(registry.get(item.name).target)
        elif is_plugin_reference(item.name):
            try:
                check_allowed(item.name, allowed)
            except CbrunError as error:
                raise type(error)(f"callbacks[{index}].name: {error}") from None
            references.append(item.name)
    return references


def warn_legacy_idioms(references: list[str], search_paths, sink: LogSink) -> None:
    """Every Keras 3 / NumPy 2 breakage in the plugins' source, at once, before TensorFlow."""
    for finding in legacy_findings(references, search_paths):
        sink.line(f"warning: {finding}", style="yellow", always=True)


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


def build_model(spec: RunSpec, dataset: Dataset):
    """The uncompiled Keras model the config describes, and its optimizer."""
    try:
        model = MODELS.build(
            {"name": spec.model.name, **spec.model.args},
            input_shape=dataset.x_train.shape[1:],
            num_classes=10,
        )
    except (TypeError, ValueError) as error:
        raise UsageError(f"model: {spec.model.name}: {error}") from None
    optimizer = build_optimizer(spec.compile.optimizer.name, spec.compile.optimizer.args)
    return model, optimizer


def compile_model(spec: RunSpec, model, optimizer, steps_per_execution: int = 1) -> None:
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


def build_callbacks(
    spec: RunSpec,
    run: RunDir | None,
    initial_lr: float,
    sink: LogSink,
    allow_plugins=(),
    search_paths=(),
    resuming: bool = False,
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
            if registry.get(item.name).origin == "plugin":
                ensure_callback_class(cls, item.name)
        else:
            cls = load_plugin(item.name, allowed, list(search_paths))
            check_plugin_arguments(cls, args, where)
        for key in PATH_ARGUMENTS:
            if isinstance(args.get(key), str) and run is not None:
                args[key] = str(run.inside(args[key]))
        if item.name == "TensorBoard" and run is not None and "log_dir" not in args:
            args["log_dir"] = str(run.inside("logs"))
        if item.name == "CSVLogger" and resuming:
            args["append"] = True  # keep the rows of the epochs already run
        if isinstance(args.get("schedule"), dict):
            args["schedule"] = build_schedule(args["schedule"], initial_lr)
        try:
            with explained_failures([cls]):
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
    if spec.distribute.strategy != "default":
        # Keras 3.15's multi-step loop fails under MirroredStrategy (measured here).
        return 1, "more than 1 fails under tf.distribute with this Keras"
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


def evaluate_on_test(model, spec: RunSpec, dataset: Dataset, sink: LogSink, callbacks) -> dict:
    """`model.evaluate` on the test split with the config's evaluate parameters."""
    results = model.evaluate(
        dataset.x_test,
        dataset.y_test,
        batch_size=spec.evaluate.batch_size,
        steps=evaluate_steps(spec, len(dataset.x_test), sink),
        verbose=0,
        return_dict=True,
        callbacks=callbacks,
    )
    return {key: float(value) for key, value in results.items()}


def _run_keeper(run: RunDir, logger, callbacks, checkpoint):
    """cbrun's own last callback: restores state on resume, checkpoints after each epoch."""
    import keras

    class RunKeeper(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            # After every other callback's on_train_begin, which resets its state.
            if checkpoint is not None:
                checkpoints.restore_callbacks(checkpoint, callbacks)
                logger.history = list(checkpoint.state["history"])
                logger.epoch_seconds = list(checkpoint.state["epoch_seconds"])
                if logger.history:
                    logger._previous = logger.history[-1]

        def on_epoch_end(self, epoch, logs=None):
            if not logger.history or logger.history[-1]["epoch"] != epoch:
                return  # an epoch cut short is not a state to resume from
            try:
                checkpoints.save(
                    run.path,
                    epoch=epoch + 1,
                    model=self.model,
                    callbacks=callbacks,
                    history=logger.history,
                    epoch_seconds=logger.epoch_seconds,
                )
                run.write_history(logger.history)
            except OSError as error:
                raise CbrunError(
                    f"cannot save the checkpoint of epoch {epoch + 1} in {run.path}: "
                    f"{error.strerror or error}; the previous checkpoint is intact "
                    f"(resume with: cbrun train --resume {run.path})"
                ) from None

    return RunKeeper()


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


def _absolute_paths(spec: RunSpec) -> RunSpec:
    """The run's config.yaml must work from any folder: make data.path absolute."""
    if spec.data.path and not Path(spec.data.path).is_absolute():
        data = spec.data.model_copy(update={"path": str(Path(spec.data.path).resolve())})
        return spec.model_copy(update={"data": data})
    return spec


def _differences(old, new, path=()) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += _differences(old.get(key), new.get(key), path + (key,))
        return found
    return [".".join(map(str, path))] if old != new else []


def resume_spec(run: RunDir, spec: RunSpec | None) -> RunSpec:
    """The saved config, or `spec` if it differs from it only by a larger `fit.epochs`."""
    saved = load_config(run.file(CONFIG))
    if spec is None:
        return saved
    spec = _absolute_paths(spec).model_copy(update={"name": saved.name})
    changed = [
        key
        for key in _differences(saved.model_dump(mode="json"), spec.model_dump(mode="json"))
        if key != "fit.epochs"
    ]
    if changed:
        raise RunDirError(
            f"the config differs from the one {run.path} was started with, at "
            f"{', '.join(changed)}; resume without a config, or start a new run"
        )
    if spec.fit.epochs < saved.fit.epochs:
        raise RunDirError(
            f"fit.epochs can only grow on resume ({saved.fit.epochs} -> {spec.fit.epochs})"
        )
    return spec


@dataclass
class _Training:
    """Everything `train` builds before `fit`, handed to `_fit_and_evaluate`."""

    spec: RunSpec
    run: RunDir
    model: object
    dataset: Dataset
    callbacks: list
    sink: LogSink
    summary: dict
    steps_per_execution: int
    first_epoch: int
    checkpoint: object
    started: float
    chief: bool


def train(
    spec: RunSpec | None,
    *,
    sink: LogSink,
    runs_dir: Path | None = None,
    run_dir: Path | None = None,
    resume: Path | None = None,
    allow_plugins=(),
    search_paths=(),
    log_every: int | None = None,
    verbose: bool = False,
    trace_batches: bool | None = None,
) -> TrainResult:
    """Run `fit` then `evaluate` as the spec says, and write the run directory.

    Args:
        spec: the validated config (None only with `resume`: use the saved one).
        sink: where lines go.
        runs_dir: parent folder of the new run folder. Defaults to `output.runs_dir`.
        run_dir: the exact run folder (must not exist). Overrides `runs_dir`.
        resume: an unfinished run folder to continue in place.
        allow_plugins: plugin modules allowed beyond the config's `plugins:`.
        search_paths: folders where plugin modules are looked for.
        log_every: a batch line every N steps (overrides `logging.every`).
        verbose: every batch line, and TensorFlow's own start-up messages.
        trace_batches: record every hook with a `HookTracer` (`cbrun trace`), batch hooks
            too if True; None traces nothing.

    Raises:
        CbrunError: a usage mistake (exit 2) or a failure (exit 1). An interrupted,
            NaN or finished run returns a `TrainResult` with its exit code.
    """
    source = None  # the run folder a resumed run reads its checkpoint from
    if resume is not None:
        source = RunDir.open(resume, finished=False)
        spec = resume_spec(source, spec)
        previous = source.summary()
        if previous.get("status") in ("completed", "stopped_early"):
            raise RunDirError(
                f"{source.path} already finished ({previous['status']} after "
                f"{previous['epochs_run']} epochs); nothing to resume"
            )
    spec = _absolute_paths(spec)
    cluster = None
    if spec.distribute.strategy == "multi_worker_mirrored":
        cluster = cluster_from_env()
        if not cluster.is_chief:
            # Only the chief writes the run directory and the full log; a resumed
            # worker reads the chief's checkpoint (a shared folder) and writes nothing.
            sink.prefix, sink.quiet = f"{cluster.name}: ", True
            run_dir = Path(tempfile.mkdtemp(prefix="cbrun-worker-")) / "run"
    in_place = source is not None and run_dir is None
    warn_legacy_idioms(check_plugins(spec, allow_plugins), search_paths, sink)
    dataset = load_data(spec, sink)
    import_tensorflow(verbose)
    # Before the run folder exists: a strategy that cannot start leaves nothing behind.
    strategy = make_strategy(spec.distribute, spec.fit.batch_size, sink.line)
    if in_place:
        run = source
    else:
        run = (
            RunDir.exact(run_dir)
            if run_dir
            else RunDir.create(Path(runs_dir or spec.output.runs_dir), spec.name)
        )
    started = time.time()
    try:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(spec.seed)
        if spec.deterministic:
            tf.config.experimental.enable_op_determinism()
        with strategy.scope():
            model, optimizer = build_model(spec, dataset)
        if cluster is not None:
            adapt_for_multi_worker(model, strategy)
        initial_lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        callbacks = build_callbacks(
            spec, run, initial_lr, sink, allow_plugins, search_paths, resume is not None
        )
        spe, why = steps_per_execution(spec, callbacks)
        with strategy.scope():
            compile_model(spec, model, optimizer, spe)
        checkpoint = None
        if source is not None:
            checkpoint = checkpoints.load_latest(source.path, sink.line)
            if checkpoint is not None:
                with strategy.scope():
                    checkpoints.restore_model(checkpoint, model)
    except BaseException:
        if not in_place:
            # Nothing was written yet: leave no trace of a run that never started.
            shutil.rmtree(run.path, ignore_errors=True)
        raise

    run.write_text(CONFIG, spec.to_yaml())
    sink.open_log(run.file(LOG))
    first_epoch = checkpoint.epoch if checkpoint else 0
    if source is not None:
        sink.line(f"resuming {source.path} at epoch {first_epoch + 1}/{spec.fit.epochs}")
    if in_place:
        run.remove_stray_temporaries()
        summary = run.summary()
        summary.setdefault("resumed", []).append(
            {"at_epoch": first_epoch, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        )
        summary.update(status="running", data=dataset.info.to_dict(), pid=os.getpid())
    else:
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
            "pid": os.getpid(),
            "distribute": {
                "strategy": spec.distribute.strategy,
                "replicas": strategy.num_replicas_in_sync,
                "global_batch": spec.fit.batch_size,
            },
        }
    run.write_json(SUMMARY, summary)
    sink.line(f"run: {run.path}  (steps_per_execution {spe}: {why})")
    training = _Training(
        spec=spec,
        run=run,
        model=model,
        dataset=dataset,
        callbacks=callbacks,
        sink=sink,
        summary=summary,
        steps_per_execution=spe,
        first_epoch=first_epoch,
        checkpoint=checkpoint,
        started=started,
        chief=cluster is None or cluster.is_chief,
    )
    tracer = None
    if trace_batches is not None:
        from cbrun.callbacks.tracing import HookTracer

        tracer = HookTracer(batches=trace_batches)
    try:
        result = _fit_and_evaluate(training, log_every=log_every, verbose=verbose, tracer=tracer)
    finally:
        sink.close()
    if cluster is not None and not cluster.is_chief:
        shutil.rmtree(run.path.parent, ignore_errors=True)
    return result


def _fit_and_evaluate(training: _Training, *, log_every, verbose, tracer) -> TrainResult:
    from cbrun.callbacks.rich_progress import RunLogger
    from cbrun.feeding import fit_data

    spec, run, model, dataset = training.spec, training.run, training.model, training.dataset
    sink, callbacks, chief = training.sink, training.callbacks, training.chief
    first_epoch, checkpoint = training.first_epoch, training.checkpoint

    logger = RunLogger(
        sink,
        every=log_every or spec.logging.every,
        seconds=spec.logging.seconds if chief else math.inf,
        verbose=verbose,
        epoch_lines_always=not chief,
    )
    user = [cb for cb, _ in callbacks]
    fit_callbacks = [cb for cb, phases in callbacks if "fit" in phases]
    eval_callbacks = [cb for cb, phases in callbacks if "evaluate" in phases]
    predict_callbacks = [cb for cb, phases in callbacks if "predict" in phases]
    keeper = _run_keeper(run, logger, user, checkpoint)
    traced = []
    if tracer is not None:
        tracer.instrument(user + [logger, keeper])
        traced = [tracer]

    stop = _Stop(model=model)
    handlers = {s: signal.signal(s, stop.handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        status, error, evaluation = "completed", None, None
        try:
            data = fit_data(
                dataset.x_train,
                dataset.y_train,
                batch_size=spec.fit.batch_size,
                seed=spec.seed,
                steps_per_epoch=spec.fit.steps_per_epoch,
                shuffle=spec.fit.shuffle,
                validation_split=spec.data.validation_split,
            )
            if checkpoint is not None:
                for callback in fit_callbacks:
                    checkpoints.trim_csv_log(callback, first_epoch)
            if first_epoch < spec.fit.epochs:
                model.fit(
                    data.train,
                    epochs=spec.fit.epochs,
                    initial_epoch=first_epoch,
                    shuffle=False,  # the pipeline shuffles, by epoch (cbrun/feeding.py)
                    validation_data=data.validation,
                    validation_batch_size=spec.fit.batch_size,
                    validation_steps=spec.fit.validation_steps if data.validation else None,
                    verbose=0,
                    callbacks=[data.callback, *traced, *fit_callbacks, logger, keeper],
                )
            if logger.nonfinite is not None:
                status = "nan"
            elif stop.signal_name:
                status = "interrupted" if stop.signal_name == "SIGINT" else "terminated"
            elif len(logger.history) < spec.fit.epochs:
                status = "stopped_early"
            if status in ("completed", "stopped_early") and spec.evaluate.enabled:
                evaluation = evaluate_on_test(
                    model, spec, dataset, sink, [*traced, *eval_callbacks, logger]
                )
            if tracer is not None and status in ("completed", "stopped_early"):
                model.predict(
                    dataset.x_test[: spec.evaluate.batch_size],
                    batch_size=spec.evaluate.batch_size,
                    verbose=0,
                    callbacks=[*traced, *predict_callbacks, logger],
                )
            if status != "nan":
                run.save_model(model)
            if status in ("completed", "stopped_early"):
                # backup/ exists only while a run can still be resumed.
                shutil.rmtree(run.file(checkpoints.BACKUP), ignore_errors=True)
        except KeyboardInterrupt:  # a second signal during fit, evaluate or the save
            status = "terminated" if stop.signal_name == "SIGTERM" else "interrupted"
        except CbrunError:
            status = "failed"
            raise
        except Exception as exc:  # noqa: BLE001 - recorded in summary.json, then re-raised
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            failure = _training_failure(exc, training, verbose)
            if failure is None:
                raise  # not TensorFlow refusing the run: a bug, with its traceback
            error = str(failure)
            raise failure from None
        finally:
            with stop.hold():
                _write_summary(training, logger, status, evaluation, error)

        return _report(training, logger, status, tracer)
    except KeyboardInterrupt:
        # A second Ctrl-C once training has stopped (saving, writing the summary): stop
        # now. Every file is written atomically, so what is on disk is whole.
        name = "terminated" if stop.signal_name == "SIGTERM" else "interrupted"
        raise RunInterrupted(
            f"{name}: continue with: cbrun train --resume {run.path}", EXIT_CODES[name]
        ) from None
    finally:
        # Only at the very end: until then a second signal is ours (KeyboardInterrupt,
        # handled above), not Python's default handler in the middle of the wind-down.
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _training_failure(exc: Exception, training: _Training, verbose: bool):
    """One line for a plugin callback raising, or TensorFlow refusing the run's data,
    model or loss; else None (a bug of cbrun's, which keeps its traceback).

    Such errors come with a page of traceback that says nothing to the user: the
    console gets one line, `train.log` gets the whole traceback.
    """
    import tensorflow as tf

    classes = [type(callback) for callback, _ in training.callbacks]
    plugin = explain_plugin_failure(exc, plugin_source_files(classes))
    if plugin is None and not isinstance(exc, tf.errors.OpError):
        return None
    trace = "".join(traceback.format_exception(exc))
    training.sink.log_only(trace.rstrip("\n"))
    if verbose:
        sys.stderr.write(trace)
    where = f"(traceback in {training.run.file(LOG)})"
    if plugin is not None:
        return PluginFailed(f"{plugin} {where}")
    text = exc.message if isinstance(exc.message, str) else str(exc)
    said = " ".join(
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line[0].isspace()
        and not line.startswith(("Graph execution error", "Detected at node"))
    )
    if len(said) > 200:
        said = said[:199] + "…"
    return TrainingFailed(f"training failed: {said or type(exc).__name__} {where}")


def _write_summary(training: _Training, logger, status, evaluation, error) -> None:
    """Write `history.csv` and the final `summary.json` (whatever the status)."""
    run, summary = training.run, training.summary
    last = {k: v for k, v in (logger.history[-1] if logger.history else {}).items() if k != "epoch"}
    summary.update(
        {
            "status": status,
            "epochs_run": len(logger.history),
            "train": last or None,
            "evaluate": evaluation,
            "seconds": {
                "total": round(summary["seconds"]["total"] + time.time() - training.started, 3),
                "epochs": [round(s, 4) for s in logger.epoch_seconds],
            },
            "steps_per_execution": training.steps_per_execution,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    summary.pop("pid", None)
    if error:
        summary["error"] = error
    try:
        run.write_history(logger.history)
        run.write_json(SUMMARY, summary)
    except OSError as write_error:
        training.sink.line(f"could not write {SUMMARY}: {write_error}", always=True)


def _report(training: _Training, logger, status, tracer) -> TrainResult:
    """The end-of-run table, the trace file, and the exit code of `status`."""
    run, summary, sink = training.run, training.summary, training.sink
    if training.chief:
        table, plain = _summary_table(summary, logger.best_epochs(), run)
        sink.show(table, plain, always=True)
    if tracer is not None:
        run.write_text(TRACE, "".join(json.dumps(e) + "\n" for e in tracer.events))
    if status == "nan":
        epoch, batch, loss = logger.nonfinite
        raise NonFiniteLossError(
            f"loss became {loss} at epoch {epoch + 1}, step {batch + 1}; training stopped, no "
            f"model was saved, the last good checkpoint is in {run.file(checkpoints.BACKUP)}"
        )
    if status in ("interrupted", "terminated"):
        sink.line(f"{status}: continue with: cbrun train --resume {run.path}", always=True)
    return TrainResult(run.path, status, summary, EXIT_CODES[status], tracer)


# -- after training -----------------------------------------------------------------


def open_run(target: Path, overrides=(), *, finished: bool = True) -> tuple[RunDir, RunSpec]:
    """A finished run folder and its saved config (with `--set` overrides applied)."""
    run = RunDir.open(target, finished=finished)
    return run, load_config(run.file(CONFIG), list(overrides))


def load_model(path: Path):
    """A `.keras` model loaded with Keras's safe mode on; anything else is refused."""
    path = Path(path)
    if path.suffix != ".keras":
        raise UsageError(f"{path}: only .keras models are loaded (safe mode); not {path.suffix!r}")
    if not path.is_file():
        raise UsageError(f"{path}: no such model file")
    import_tensorflow()
    import keras

    try:
        return keras.models.load_model(path, safe_mode=True)
    except ValueError as error:
        if "Lambda" in str(error) or "unsafe" in str(error).lower():
            raise UsageError(
                f"{path}: the model holds a Lambda layer (Python code); refused in safe mode"
            ) from None
        raise UsageError(f"{path}: cannot load the model ({error})") from None
    except (OSError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: cannot load the model ({error})") from None


def evaluate(
    spec: RunSpec,
    model_path: Path,
    *,
    sink: LogSink,
    run: RunDir | None = None,
    allow_plugins=(),
    search_paths=(),
) -> dict:
    """Evaluate a saved model on the test split with the evaluate-phase callbacks."""
    check_plugins(spec, allow_plugins)
    dataset = load_data(spec, sink)
    model = load_model(model_path)
    from cbrun.callbacks.rich_progress import RunLogger

    # No training here: a learning-rate schedule has nothing to start from.
    callbacks = build_callbacks(spec, run, 0.0, sink, allow_plugins, search_paths)
    phase = [cb for cb, phases in callbacks if "evaluate" in phases]
    with explained_failures([type(cb) for cb in phase]):
        results = evaluate_on_test(model, spec, dataset, sink, [*phase, RunLogger(sink)])
    if run is not None:
        run.write_json(
            EVALUATE,
            {"model": str(model_path), "evaluate": results, "data": dataset.info.to_dict()},
        )
    return results


def predict(run: RunDir, spec: RunSpec, *, sink: LogSink, count: int) -> tuple[list, object]:
    """Predictions for the first `count` test images (and the images), with the
    predict-phase callbacks."""
    import numpy as np

    dataset = load_data(spec, sink)
    model = load_model(run.file(MODEL))
    from cbrun.callbacks.rich_progress import RunLogger

    callbacks = build_callbacks(spec, run, 0.0, sink)
    phase = [cb for cb, phases in callbacks if "predict" in phases]
    images = dataset.x_test[:count]
    with explained_failures([type(cb) for cb in phase]):
        outputs = model.predict(
            images,
            batch_size=spec.evaluate.batch_size,
            verbose=0,
            callbacks=[*phase, RunLogger(sink)],
        )
    items = []
    for index, output in enumerate(outputs):
        output = np.asarray(output, dtype=np.float64).reshape(-1)
        item = {"index": index, "label": int(dataset.y_test[index])}
        if output.size == 1:  # a regression on the label (the guide's linear model)
            item.update(
                prediction=int(np.clip(np.rint(output[0]), 0, 9)),
                confidence=None,
                output=float(output[0]),
            )
        else:
            item.update(
                prediction=int(output.argmax()),
                confidence=float(output.max()),
                probabilities=[float(p) for p in output],
            )
        items.append(item)
    return items, dataset.x_test[:count]
