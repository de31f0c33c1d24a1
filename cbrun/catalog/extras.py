"""cbrun's optional extras: which module each needs, and the one line when it is missing.

Asked while the config is checked (`importlib.util.find_spec`, nothing imported), so a
run that needs an extra that is not installed is refused before TensorFlow loads.
"""

from __future__ import annotations

import importlib.util

# extra name -> the modules it installs
EXTRAS = {
    "mlflow": ("mlflow",),
    "tensorboard": ("tensorboard",),
    "onnx": ("tf2onnx", "onnx", "onnxruntime"),  # convert, and check in its own runtime
    "litert": ("ai_edge_litert",),  # the LiteRT interpreter (TensorFlow converts)
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_extra(extra: str) -> str | None:
    """The line to show when one of `extra`'s modules is not installed, or None."""
    modules = EXTRAS[extra]
    if isinstance(modules, str):
        modules = (modules,)
    if all(_installed(module) for module in modules):
        return None
    return f"needs the {extra} extra: pip install 'cbrun[{extra}]'"
