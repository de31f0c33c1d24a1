"""Which backend Keras runs on, and Keras imported without its start-up chatter.

The one place that knows the backend. A run's `backend:` (`tensorflow`, the default, or
`jax`) is set with `use_backend()` before Keras is imported: Keras reads `KERAS_BACKEND`
once, at its import, and cannot change it in a running process. On JAX, Keras never
imports TensorFlow; `load_tensorflow()` imports it only where a feature needs it (TensorBoard
event files, `cbrun export`), quietly too.

`import tensorflow` writes oneDNN notes, CUDA-stub warnings and absl's "before
InitializeLog" line straight to file descriptor 2, from C++, where no Python setting
reaches (see ../shared/notes/tensorflow-console.md); JAX's XLA client may too, when it
first looks for devices. So for the duration of the import fd 2 points at a temporary
file; what was captured is shown if the import fails, and always under `--verbose`.

Every module of cbrun reaches Keras and TensorFlow through `load_keras()` and
`load_tensorflow()` here, never by `import keras` (tests/test_backend.py checks):
whichever module asks first, the chatter stays off the console.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import sys
import tempfile

from cbrun.errors import UsageError

BACKENDS = ("tensorflow", "jax")
DEFAULT_BACKEND = "tensorflow"
# The package each backend needs beyond cbrun's own, and the extra that installs it.
EXTRAS = {"jax": ("jax", "cbrun[jax]")}
# What the user's shell said, before cbrun set it: the config decides, not the shell, so
# that one config trains on one backend on every machine (the start-up line notes it).
SHELL_BACKEND = os.environ.get("KERAS_BACKEND")
_chosen: str | None = None

# Inherited by the processes cbrun starts (sweep workers), so `--verbose` reaches them.
VERBOSE_ENV = "CBRUN_VERBOSE"
_verbose = os.environ.get(VERBOSE_ENV) == "1"


def set_verbose(verbose: bool) -> None:
    """Show TensorFlow's start-up lines (`--verbose`), or keep them off (the default).

    Process-wide, because the first `load_keras()` may come from any module that
    subclasses a Keras class; call it before anything loads TensorFlow.
    """
    global _verbose
    _verbose = bool(verbose) or os.environ.get(VERBOSE_ENV) == "1"
    if _verbose:
        os.environ[VERBOSE_ENV] = "1"
    quiet_environment(_verbose)


def quiet_environment(verbose: bool = False) -> None:
    """Set TensorFlow's C++ log level before it loads, unless the user set it."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # JAX's own warnings (no GPU found, ...) go through Python's logging.
        import logging

        logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)


def missing_extra(backend: str) -> str | None:
    """The one line saying which extra to install, when `backend`'s package is absent."""
    package, extra = EXTRAS.get(backend, (None, None))
    if package is None or importlib.util.find_spec(package) is not None:
        return None
    return f"backend: {backend} needs the {package} package: pip install '{extra}'"


def use_backend(backend: str, host_devices: int | None = None) -> None:
    """Run Keras on `backend` in this process: set before Keras is imported. On JAX,
    `host_devices` splits the CPU into that many devices (`distribute.logical_devices`),
    which XLA reads once, when JAX starts.

    Raises:
        UsageError: Keras was imported on another backend in this process already (it
            cannot change its backend after its import), or the backend's extra is absent.
    """
    running = imported_backend()
    if running is not None and running != backend:
        raise UsageError(
            f"backend: {backend} asked for, but this process runs Keras on {running} already "
            "(Keras cannot change its backend once imported): run it in its own process"
        )
    problem = missing_extra(backend)
    if problem:
        raise UsageError(problem)
    global _chosen
    _chosen = backend
    os.environ["KERAS_BACKEND"] = backend
    if backend == "jax" and host_devices:
        _split_host(host_devices)


HOST_DEVICES = "--xla_force_host_platform_device_count"


def _split_host(count: int) -> None:
    if "jax" in sys.modules:
        started = len(sys.modules["jax"].devices())
        if started != count:
            raise UsageError(
                f"distribute.logical_devices: {count} asked for, but JAX started with "
                f"{started} device(s) in this process already: run it in its own process"
            )
        return
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(HOST_DEVICES)]
    os.environ["XLA_FLAGS"] = " ".join([*flags, f"{HOST_DEVICES}={count}"])


def ignored_shell_backend() -> str | None:
    """`KERAS_BACKEND=...` from the shell when it differs from the backend cbrun runs."""
    if SHELL_BACKEND and SHELL_BACKEND != current_backend():
        return f"KERAS_BACKEND={SHELL_BACKEND}"
    return None


def imported_backend() -> str | None:
    """The backend Keras was imported on in this process; None before its import."""
    keras = sys.modules.get("keras")
    return keras.backend.backend() if keras is not None and hasattr(keras, "backend") else None


def current_backend() -> str:
    """The backend this process runs (or will run) Keras on."""
    return imported_backend() or _chosen or DEFAULT_BACKEND


def on_jax() -> bool:
    return current_backend() == "jax"


def settle_after_fit(model) -> None:
    """On JAX, give every model variable a buffer of its own once `fit` returns. With the
    optimizer's `use_ema`, fit's end leaves model variables sharing buffers that the next
    jitted `evaluate` gives away, and `model.save` then fails with "Array has been
    deleted" (plain Keras 3.15.1 on JAX 0.10.2: fit, evaluate, save). A copy of the
    weights, once a run; nothing on TensorFlow. Every run on JAX, not only `use_ema` ones:
    the optimizer may be wrapped (mixed_float16's LossScaleOptimizer hides `use_ema`)."""
    if on_jax():
        import numpy as np

        for variable in model.variables:
            variable.assign(np.array(variable.value))


def load_keras():
    """The `keras` module, imported through the quiet loader. The only way in for cbrun."""
    import_keras()
    return sys.modules["keras"]


def load_tensorflow():
    """The `tensorflow` module, imported through the quiet loader: Keras's backend on
    TensorFlow; on JAX, only where a feature needs TensorFlow itself."""
    if "tensorflow" not in sys.modules:
        _quietly(lambda: __import__("tensorflow"))
        sys.modules["tensorflow"].get_logger().setLevel("ERROR")
        if "keras" in sys.modules:
            _tensorflow_seen_by_keras(True)
    return sys.modules["tensorflow"]


def _tensorflow_seen_by_keras(seen: bool) -> None:
    """Whether Keras's `tf.available` checks (72 in Keras 3.15: saving a model,
    `set_random_seed`, ...) may import TensorFlow. On JAX, Keras imports it whenever it
    is installed, as it is beside cbrun, to test its inputs against TensorFlow's types;
    cbrun hands Keras no TensorFlow object there, so it is absent to those checks
    until a feature imports it (`load_tensorflow`)."""
    from keras.src.utils import module_utils

    module_utils.tensorflow._available = seen


def import_keras(verbose: bool | None = None) -> str:
    """Import `keras` on the chosen backend (and `tensorflow` with it on TensorFlow);
    return what they wrote to stderr meanwhile.

    `verbose` None follows `set_verbose`; True lets them write to the console.
    """
    if "keras" in sys.modules and (on_jax() or "tensorflow" in sys.modules):
        return ""
    os.environ["KERAS_BACKEND"] = current_backend()
    text = _quietly(_import_backend, verbose)
    _freeze_imported()
    return text


def _import_backend() -> None:
    if os.environ["KERAS_BACKEND"] == "jax":
        import jax
        import keras  # noqa: F401

        jax.devices()  # XLA's client starts here: its lines are captured with the import
        _tensorflow_seen_by_keras("tensorflow" in sys.modules)
    else:
        import keras  # noqa: F401
        import tensorflow

        # Python-side warnings too (a sweep's many fits in one process warn of retracing).
        tensorflow.get_logger().setLevel("ERROR")


def _quietly(load, verbose: bool | None = None) -> str:
    """`load()` with fd 2 captured unless verbose; what was captured."""
    verbose = _verbose if verbose is None else verbose
    quiet_environment(verbose)
    if verbose:
        load()
        return ""
    with native_stderr_captured() as captured:
        load()
    return captured.text


def _freeze_imported() -> None:
    # The ~400,000 objects TensorFlow and Keras create on import live as long as the
    # process. Out of the collector's reach, a full collection (Keras's clear_session
    # runs one before every run) takes microseconds instead of 0.13-0.19 s, and a forked
    # sweep or test process does not copy their pages by touching them. No collection
    # first: one right after the import found nothing to free and took 0.19 s.
    gc.freeze()


class _Captured:
    text = ""


@contextlib.contextmanager
def native_stderr_captured():
    """File descriptor 2 into a temporary file for the block: what C++ code writes there
    (TensorFlow's import, LiteRT's "Created TensorFlow Lite XNNPACK delegate") is kept in
    `.text`, and shown if the block fails."""
    sys.stderr.flush()
    saved, captured = os.dup(2), _Captured()
    with tempfile.TemporaryFile(mode="w+b") as file:
        os.dup2(file.fileno(), 2)
        try:
            yield captured
        except BaseException:
            os.dup2(saved, 2)
            file.seek(0)
            sys.stderr.write(file.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            file.seek(0)
            captured.text = file.read().decode("utf-8", "replace")


# Keras reads these and silently cuts every fit short (keras#21217): a run would end
# "stopped_early" with no callback having stopped it.
CAPPING_ENVIRONMENT = ("KERAS_MAX_EPOCHS", "KERAS_MAX_STEPS_PER_EPOCH")


def refuse_capping_environment() -> None:
    """Refuse the environment variables that make Keras cut a run short unasked."""
    found = [name for name in CAPPING_ENVIRONMENT if os.environ.get(name)]
    if found:
        raise UsageError(
            f"{', '.join(f'{n}={os.environ[n]}' for n in found)} is set: Keras would silently "
            "cut every epoch or the run short; unset it and use --set fit.epochs=N or "
            "--set fit.steps_per_epoch=N"
        )
