"""Train from a validated `RunSpec`: prepare, fit, finish. No click here.

Every check that needs no TensorFlow (the environment, plugins allowed and their
source, data readable) runs before the run directory exists, so a mistake leaves
nothing behind; TensorFlow loads only after that. Elsewhere: `callback_factory`
(callbacks, steps per execution), `recorder` (state, checkpoints), `decisions` (who
stopped the run or changed the learning rate), `resume` (`--resume`), `signals`
(Ctrl-C), `failures` (one-line errors), `summary` (`summary.json`, exit codes).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cbrun.backend import (
    import_keras,
    load_keras,
    load_tensorflow,
    on_jax,
    refuse_capping_environment,
    settle_after_fit,
    use_backend,
)
from cbrun.build.callback_factory import (
    build_callbacks,
    check_plugins,
    steps_per_execution,
    warn_legacy_idioms,
)
from cbrun.build.models import build_model, compile_model
from cbrun.config.backend_checks import tensorflow_needed
from cbrun.config.spec import RunSpec
from cbrun.data.datasets import Dataset, load_configured
from cbrun.data.feeding import augmenter_for, class_weights, fit_data_for
from cbrun.errors import CbrunError, RunInterrupted
from cbrun.output.logsink import LogSink
from cbrun.output.rundir import CONFIG, LOG, SUMMARY, RunDir
from cbrun.output.summary import RunStatus, Summary, start_summary
from cbrun.run import checkpoints
from cbrun.run import resume as resuming
from cbrun.run.distribute import (
    backend_said,
    make_strategy,
    reset_distribution,
    set_determinism,
)
from cbrun.run.ending import TrainResult, fit_status, report, write_summary
from cbrun.run.evaluation import evaluate_on_test
from cbrun.run.failures import (
    after_failure,
    nothing_to_resume,
    remove_untrained,
    training_failure,
)
from cbrun.run.multi_worker import adapt as adapt_for_multi_worker
from cbrun.run.multi_worker import cluster_from_env
from cbrun.run.outputs import probe_outputs
from cbrun.run.signals import StopSignals


@dataclass
class _Training:
    """Everything `train` prepares before `fit`."""

    spec: RunSpec
    run: RunDir
    model: object
    dataset: Dataset
    callbacks: list  # [(callback, phases)], the config's
    sink: LogSink
    summary: Summary
    first_epoch: int
    checkpoint: object
    started: float
    chief: bool
    verbose: bool = False
    log_every: int | None = None
    tracer: object = None
    extra: list = field(default_factory=list)
    tracking: object = None  # cbrun.tracking.session.RunTracking, when the run is tracked


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
    extra_callbacks=(),
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
        extra_callbacks: callbacks from the caller, not the config (a sweep's reporter),
            passed to `fit` after the config's.

    Raises:
        CbrunError: a usage mistake (exit 2), a failure (exit 1), a NaN or infinite
            loss (`NonFiniteLossError`, exit 3). A finished or interrupted run returns a
            `TrainResult` with its exit code.
    """
    refuse_capping_environment()
    epochs = spec.fit.epochs if spec is not None else None  # more than done: continue
    source = None if resume is None else resuming.open_unfinished(resume, epochs)
    spec = spec if source is None else resuming.resume_spec(source, spec)
    spec = resuming.self_contained(spec, allow_plugins, search_paths)
    use_backend(spec.backend, spec.distribute.logical_devices)
    probe_outputs(spec, run_dir=run_dir, runs_dir=runs_dir, resume=resume)
    with sink.capturing_output():  # a plugin's print() reaches train.log too
        training = _prepare(spec, source, sink, runs_dir=runs_dir, run_dir=run_dir, verbose=verbose)
        training.log_every, training.extra = log_every, list(extra_callbacks)
        if trace_batches is not None:
            from cbrun.build.callbacks.tracing import HookTracer

            training.tracer = HookTracer(batches=trace_batches)
        try:
            result = _fit_and_finish(training)
        except BaseException as error:
            after_failure(training.run, training.sink, source is None, error, training.chief)
            raise
        finally:
            _release(training)
        if source is None and nothing_to_resume(training.run.path, training.chief):
            remove_untrained(training.run.path, training.sink)
        return result


def _release(training: _Training) -> None:
    """After the run, however it ended: the log closed, the folder unlocked, Keras's
    global dtype policy back to float32 and its distribution unset, a non-chief worker's
    scratch folder gone."""
    training.sink.close()
    training.run.unlock()
    load_keras().mixed_precision.set_global_policy("float32")
    reset_distribution()
    if not training.chief:
        shutil.rmtree(training.run.path.parent, ignore_errors=True)


def _prepare(spec: RunSpec, source, sink, *, runs_dir, run_dir, verbose) -> _Training:
    """Checks, data, TensorFlow, the run folder, the model and the callbacks."""
    cluster = None
    if spec.distribute.strategy == "multi_worker_mirrored":
        cluster = cluster_from_env()
        if not cluster.is_chief:
            # Only the chief writes the run directory and the full log; a resumed
            # worker reads the chief's checkpoint (a shared folder) and writes nothing.
            sink.prefix, sink.quiet = f"{cluster.name}: ", True
            run_dir = Path(tempfile.mkdtemp(prefix="cbrun-worker-")) / "run"
    in_place = source is not None and run_dir is None
    search_paths = [Path(p) for p in spec.plugin_paths]
    warn_legacy_idioms(check_plugins(spec), search_paths, sink)
    dataset = load_configured(spec.data, sink.line, seed=spec.seed)
    weights = class_weights(
        spec.fit.class_weight, dataset.y_train, dataset.num_classes, spec._origins
    )
    _import_backend(spec, verbose)
    # Before the run folder exists: a strategy or an augmentation Keras refuses leaves nothing.
    strategy = make_strategy(spec.distribute, spec.fit.batch_size, sink.line)
    augmenter_for(spec, dataset)
    run = resuming.held_folder(
        source if in_place else None, run_dir, runs_dir or spec.output.runs_dir, spec
    )
    started = time.time()
    try:
        built = _build(spec, run, source, dataset, strategy, cluster, sink, search_paths)
    except BaseException:
        run.unlock()
        if not in_place:
            # Nothing was written yet: leave no trace of a run that never started.
            shutil.rmtree(run.path, ignore_errors=True)
        raise
    model, callbacks, checkpoint, spe, why = built
    run.write_text(CONFIG, resuming.config_text(spec, run if in_place else None))
    sink.open_log(run.file(LOG))
    first_epoch = checkpoint.epoch if checkpoint else 0
    if source is not None:
        sink.line(f"resuming {source.path} at epoch {first_epoch + 1}/{spec.fit.epochs}")
        run.remove_stray_temporaries()
    summary = start_summary(spec, run, dataset, strategy, started, in_place, first_epoch)
    summary.steps_per_execution = spe
    summary.fit = {"dtype_policy": spec.compile.dtype_policy, "class_weight": weights}
    run.write_json(SUMMARY, summary.to_json())
    sink.line(f"run: {run.path}  ({backend_said(spec.backend)}; steps_per_execution {spe}: {why})")
    return _Training(
        spec=spec,
        run=run,
        model=model,
        dataset=dataset,
        callbacks=callbacks,
        sink=sink,
        summary=summary,
        first_epoch=first_epoch,
        checkpoint=checkpoint,
        started=started,
        chief=cluster is None or cluster.is_chief,
        verbose=verbose,
    )


def _import_backend(spec: RunSpec, verbose: bool) -> None:
    """Keras on the run's backend, and TensorFlow on JAX only where a feature needs it
    (imported quietly here, not by Keras's own lazy import, unquiet)."""
    import_keras(verbose)
    if on_jax() and tensorflow_needed(spec):
        load_tensorflow()
    load_keras().backend.clear_session()  # what an earlier run in this process left


def _build(spec, run, source, dataset, strategy, cluster, sink, search_paths):
    """The compiled model, its callbacks, the checkpoint it resumes from (restored into
    the model), and the steps per execution with why."""
    keras = load_keras()

    keras.utils.set_random_seed(spec.seed)
    # Process-wide, like the seed: each run sets its own (train() puts float32 back).
    keras.mixed_precision.set_global_policy(spec.compile.dtype_policy)
    if not on_jax():  # XLA's CPU ops, JAX's, are deterministic as they are
        set_determinism(spec.deterministic)
    checkpoint = None
    if source is not None:
        checkpoint = checkpoints.load_latest(source.path, sink.line)
    # A run resumed from its own checkpoint holds every weight: `model.init_from` and the
    # backbone's `model.weights` (which may be gone since) are not read again.
    built = spec if checkpoint is None else resuming.without_sources(spec)
    with strategy.scope():
        model, optimizer = build_model(
            built, dataset.x_train.shape[1:], dataset.num_classes, search_paths, sink.line
        )
    if cluster is not None:
        adapt_for_multi_worker(model, strategy)
    initial_lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    callbacks = build_callbacks(
        spec, run, initial_lr, sink, (), search_paths, resuming=source is not None
    )
    spe, why = steps_per_execution(spec, callbacks)
    with strategy.scope():
        compile_model(spec, model, optimizer, spe)
    if checkpoint is not None:
        with strategy.scope():
            checkpoints.prepare_model(checkpoint, [cb for cb, _ in callbacks], model)
            checkpoints.restore_model(checkpoint, model)
    return model, callbacks, checkpoint, spe, why


def _fit_and_finish(training: _Training) -> TrainResult:
    """Fit, evaluate and save under cbrun's signal handling; then the summary, always."""
    from cbrun.run.recorder import RunRecorder, prepare_resume
    from cbrun.run.rich_progress import RunLogger

    spec, run, sink = training.spec, training.run, training.sink
    user = [callback for callback, _ in training.callbacks]
    recorder = RunRecorder(run, user, training.checkpoint, sink.line)
    logger = RunLogger(
        sink,
        every=training.log_every or spec.logging.every,
        seconds=spec.logging.seconds if training.chief else float("inf"),
        verbose=training.verbose,
        epoch_lines_always=not training.chief,
        recorder=recorder,
    )
    if training.checkpoint is not None:
        prepare_resume(user, training.first_epoch, sink.line)
    after_recorder = _start_tracking(training, recorder)
    stop = StopSignals(model=training.model)
    try:
        with stop.installed():
            status, evaluation, error = RunStatus.FAILED, None, None
            try:
                status, evaluation = _run_phases(training, recorder, logger, stop, after_recorder)
            except KeyboardInterrupt:  # a second signal during fit, evaluate or the save
                status = RunStatus.for_signal(stop.signal_name)
            except CbrunError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded in summary.json, then re-raised
                error = f"{type(exc).__name__}: {exc}"
                nothing_trained = not recorder.history and training.checkpoint is None
                failure = training_failure(
                    exc, user, sink, run.file(LOG), training.verbose, nothing_trained
                )
                if failure is None:
                    raise  # not the user's to fix: a bug, with its traceback
                error = str(failure)
                raise failure from None
            finally:
                with stop.hold():
                    write_summary(training, recorder, status, evaluation, error)
            return report(training, recorder, status)
    except KeyboardInterrupt:
        # A second Ctrl-C once training has stopped (saving, writing the summary): stop
        # now. Every file is written atomically, so what is on disk is whole.
        status = RunStatus.for_signal(stop.signal_name)
        raise RunInterrupted(
            f"{status.value}: continue with: cbrun train --resume {run.path}", status.exit_code
        ) from None


def _start_tracking(training: _Training, recorder) -> list:
    """TensorBoard and MLflow as `tracking:` says (the chief only): the resumed history
    first, then a callback that sends each epoch the recorder kept."""
    if not training.spec.tracking.active or not training.chief:
        return []
    from cbrun.tracking.session import RunTracking, tracking_callback

    say = lambda line: training.sink.line(line, always=True)  # noqa: E731
    training.tracking = RunTracking(
        training.spec, training.run.path, say, log=training.sink.log_only
    )
    training.tracking.start(recorder.history)
    return [tracking_callback(training.tracking, recorder)]


def _run_phases(training, recorder, logger, stop, after_recorder) -> tuple[RunStatus, dict | None]:
    """fit, then (if the run finished) evaluate, predict when traced, and the model saved."""
    from cbrun.run.decisions import Decisions

    spec, model, dataset, run = training.spec, training.model, training.dataset, training.run
    phase = {name: [cb for cb, ph in training.callbacks if name in ph] for name in _PHASES}
    traced = [training.tracer] if training.tracer is not None else []
    if traced:
        training.tracer.instrument([cb for cb, _ in training.callbacks] + [recorder, logger])
    data = fit_data_for(spec, dataset)
    for note in data.notes:
        training.sink.line(note)
    if training.first_epoch < spec.fit.epochs:
        decisions = Decisions(training.sink)
        model.fit(
            data.train,
            epochs=spec.fit.epochs,
            initial_epoch=training.first_epoch,
            shuffle=False,  # the pipeline shuffles, by epoch (cbrun/data/feeding.py)
            validation_data=data.validation,  # batched already, at fit.batch_size
            validation_steps=spec.fit.validation_steps if data.validation else None,
            verbose=0,
            class_weight=training.summary.fit["class_weight"],
            callbacks=[
                data.callback,
                stop.fit_callback(),
                *traced,
                *decisions.around(phase["fit"]),  # who stopped the run, who changed lr
                *training.extra,
                recorder,
                *after_recorder,  # what the recorder kept and checkpointed: tracking
                logger,
                decisions.teller(),
            ],
        )
        settle_after_fit(model)
    status = fit_status(training, recorder, stop)
    evaluation = None
    if status.finished and spec.evaluate.enabled:
        callbacks = [*traced, *phase["evaluate"], logger]
        evaluation = evaluate_on_test(model, spec, dataset, training.sink, callbacks)
    if training.tracer is not None and status.finished:
        model.predict(
            dataset.inputs(dataset.x_test[: spec.evaluate.batch_size]),
            batch_size=spec.evaluate.batch_size,
            verbose=0,
            callbacks=[*traced, *phase["predict"], logger],
        )
    if status != RunStatus.NAN:
        run.save_model(model)
    if status.finished:  # the last checkpoint stays: `--resume --set fit.epochs=N` goes on
        checkpoints.keep_newest(run.path)
    return status, evaluation


_PHASES = ("fit", "evaluate", "predict")
