"""cbrun: a YAML-driven training runner for Keras 3 callbacks.

Importing cbrun does not import TensorFlow.
"""

__version__ = "0.1.0"

from cbrun.plugins import register_callback  # noqa: E402

__all__ = ["__version__", "register_callback"]
