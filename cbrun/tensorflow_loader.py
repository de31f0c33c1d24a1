"""Import TensorFlow and Keras without their start-up chatter on the console.

`import tensorflow` writes oneDNN notes, CUDA-stub warnings and absl's
"before InitializeLog" line straight to file descriptor 2, from C++, where no
Python setting reaches (see ../shared/notes/tensorflow-console.md). So for the
duration of the import fd 2 points at a temporary file; what was captured is
shown if the import fails, and always under `--verbose`.

Every module of cbrun reaches Keras and TensorFlow through `load_keras()` and
`load_tensorflow()` here, never by `import keras` (tests/test_layout.py checks):
whichever module asks first, the chatter stays off the console.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile

from cbrun.errors import UsageError

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


def load_keras():
    """The `keras` module, imported through the quiet loader. The only way in for cbrun."""
    import_tensorflow()
    return sys.modules["keras"]


def load_tensorflow():
    """The `tensorflow` module, imported through the quiet loader."""
    import_tensorflow()
    return sys.modules["tensorflow"]


def import_tensorflow(verbose: bool | None = None) -> str:
    """Import `tensorflow` and `keras`; return what they wrote to stderr meanwhile.

    `verbose` None follows `set_verbose`; True lets TensorFlow write to the console.
    """
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return ""
    verbose = _verbose if verbose is None else verbose
    quiet_environment(verbose)
    if verbose:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        _freeze_imported()
        return ""
    with native_stderr_captured() as captured:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    # Python-side warnings too (a sweep's many fits in one process warn of retracing).
    tensorflow.get_logger().setLevel("ERROR")
    _freeze_imported()
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
