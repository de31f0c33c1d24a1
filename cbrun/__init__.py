"""cbrun: a YAML-driven training runner for Keras 3 callbacks.

Importing cbrun does not import TensorFlow.
"""

__version__ = "0.1.0"

from cbrun.api import Run, evaluate, list_callbacks, load_config, predict, train  # noqa: E402
from cbrun.build.plugins import register_callback  # noqa: E402
from cbrun.errors import CbrunError, ConfigError, UsageError  # noqa: E402

__all__ = [
    "__version__",
    "CbrunError",
    "ConfigError",
    "Run",
    "UsageError",
    "evaluate",
    "list_callbacks",
    "load_config",
    "predict",
    "register_callback",
    "train",
]
