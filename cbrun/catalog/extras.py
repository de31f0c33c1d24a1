"""cbrun's optional extras: which module each needs, and the one line when it is missing.

Asked while the config is checked (`importlib.util.find_spec`, nothing imported), so a
run that needs an extra that is not installed is refused before TensorFlow loads.
"""

from __future__ import annotations

import importlib.util

# extra name -> the module it installs
EXTRAS = {"mlflow": "mlflow", "tensorboard": "tensorboard"}


def missing_extra(extra: str) -> str | None:
    """The line to show when `extra`'s module is not installed, or None."""
    try:
        found = importlib.util.find_spec(EXTRAS[extra]) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"needs the {extra} extra: pip install 'cbrun[{extra}]'"
