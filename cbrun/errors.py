"""The exceptions cbrun raises, and the exit code each one means.

The CLI turns a `CbrunError` into one `Error: ...` line on stderr and its
`exit_code`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class CbrunError(Exception):
    """A failure cbrun can explain in one line. Exits 1 unless said otherwise."""

    exit_code = 1


class UsageError(CbrunError):
    """The user asked for something that cannot be done as asked (exit 2)."""

    exit_code = 2


class DataError(UsageError):
    """A data file is missing, unreadable or not in the expected layout (exit 2)."""


class RunDirError(UsageError):
    """A run directory is missing, unfinished, foreign, or in the way (exit 2)."""


class PluginError(UsageError):
    """A plugin callback is not allowed, not importable, or not a Keras callback (exit 2)."""


class PluginFailed(CbrunError):
    """A plugin callback's own code raised while it ran (exit 1)."""


class NonFiniteLossError(CbrunError):
    """Training produced a NaN or infinite loss (exit 3)."""

    exit_code = 3


class TrainingFailed(CbrunError):
    """TensorFlow refused the run's data, model or loss while training (exit 1)."""


class TrainingRefused(UsageError):
    """TensorFlow refused the config's data, model or loss before a first epoch ended:
    a config mistake that only TensorFlow could see (exit 2, the run folder removed)."""


class RunInterrupted(CbrunError):
    """A second Ctrl-C (or SIGTERM) while a stopping run was winding down (exit 130 or 143)."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config.

    Args:
        where: `file:line:col`, or the `--set KEY=VALUE` it came from.
        path: the key path, e.g. `callbacks[1].args.patience`; empty for the whole file.
        message: what is wrong, and what would be right.
    """

    where: str
    path: str
    message: str

    def __str__(self) -> str:
        if self.path:
            return f"{self.where}: {self.path}: {self.message}"
        return f"{self.where}: {self.message}"


class ConfigError(UsageError):
    """A config has one or more problems; each is reported on its own line (exit 2)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
