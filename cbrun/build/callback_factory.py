"""From the config's callback list to Keras callback objects, and what they imply.

Before TensorFlow loads: plugins outside the allow-list are refused, and the
allowed ones' source is checked for Keras 3 breakages. After it: each callback
is built from its registered class or its plugin, with its path arguments
placed inside the run folder, and the steps per execution follow from which
callbacks need every batch.
"""

from __future__ import annotations

from cbrun.build import callback_state
from cbrun.build.plugin_failures import explained_failures
from cbrun.build.plugins import (
    check_allowed,
    check_plugin_arguments,
    ensure_callback_class,
    legacy_findings,
    load_plugin,
)
from cbrun.catalog.callbacks import PATH_ARGUMENTS, callback_registry
from cbrun.catalog.models import model_names
from cbrun.catalog.registry import hooks_of, is_plugin
from cbrun.catalog.schedules import build_schedule
from cbrun.config.spec import RunSpec
from cbrun.errors import CbrunError, UsageError
from cbrun.output.logsink import LogSink
from cbrun.output.rundir import RunDir

# With no callback needing every step, run this many steps per call into
# TensorFlow: measured on full MNIST with the MLP (bench/run.py), 32 gets most of
# the gain of 64 while batch lines still come often.
AUTO_STEPS_PER_EXECUTION = 32
BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end")


def allowed_plugins(spec: RunSpec, extra=()) -> set[str]:
    """The plugin modules a run may import: the config's `plugins:` and `--allow-plugin`."""
    return set(spec.plugins) | set(extra)


def check_plugins(spec: RunSpec, allow_plugins=()) -> list[str]:
    """Refuse plugins outside the allow-list, before anything is imported.

    Returns:
        The `module:Class` of every plugin callback the config uses.
    """
    registry = callback_registry()
    allowed = allowed_plugins(spec, allow_plugins)
    references = []
    if is_plugin(spec.model.name, model_names()):
        try:
            check_allowed(spec.model.name, allowed)
        except CbrunError as error:
            raise type(error)(f"model.name: {error}") from None
        references.append(spec.model.name)
    for index, item in enumerate(spec.callbacks):
        if item.name in registry:
            if registry.get(item.name).origin == "plugin":
                references.append(registry.get(item.name).target)
        elif is_plugin(item.name, registry):
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
    allowed = allowed_plugins(spec, allow_plugins)
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
        args = callback_state.construction_arguments(cls, args, run, resuming)
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
    if spec.distribute.strategy != "default" and spec.backend == "tensorflow":
        # Keras 3.15's multi-step loop fails under MirroredStrategy (measured here); under
        # JAX's DataParallel it runs (measured: 8 steps on two CPU devices).
        return 1, "more than 1 fails under tf.distribute with this Keras"
    per_batch = sorted(
        {
            type(cb).__name__
            for cb, phases in callbacks
            if "fit" in phases and set(hooks_of(type(cb))) & set(BATCH_HOOKS)
        }
    )
    if per_batch:
        verb = "needs" if len(per_batch) == 1 else "need"
        return 1, f"{', '.join(per_batch)} {verb} every batch hook"
    return AUTO_STEPS_PER_EXECUTION, "no callback needs every batch hook"
