"""The `sweep:` section: what `cbrun sweep` searches, and how (cbrun/sweep/ runs it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cbrun.catalog.limits import MAX_EPOCHS, MAX_SEED, MAX_TRIALS
from cbrun.config.base import _Section


class SweepObjective(_Section):
    """The epoch log a sweep optimises (its best epoch per trial), and which way."""

    monitor: str
    """The logged value each trial is judged by (its best epoch)."""
    mode: Literal["min", "max"]
    """Whether lower or higher is better."""


BOUNDS = ("lower", "upper")  # a threshold pruner's


class PrunerSpec(_Section):
    """Stop a trial whose objective falls behind: `median` of the trials so far at the
    same epoch, or a `threshold` (`lower`/`upper`); none before `warmup_epochs`."""

    type: Literal["median", "threshold", "none"] = "median"
    """How a trial that falls behind is stopped: `median`, `threshold` or `none`."""
    warmup_epochs: int = Field(0, ge=0, le=MAX_EPOCHS)
    """Epochs every trial runs before it may be pruned."""
    # median: trials finished before any is pruned (default: a quarter of the sweep's
    # trials, 1 to 5; Optuna's fixed 5 would prune nothing in an 8-trial sweep of 2 workers)
    startup_trials: int | None = Field(None, ge=0, le=MAX_TRIALS)
    """`median`: trials finished before any is pruned (default: a quarter of the trials, 1 to 5)."""
    lower: float | None = None
    """`threshold`: prune below this value."""
    upper: float | None = None
    """`threshold`: prune above this value."""

    @model_validator(mode="after")
    def _threshold_bounds(self):
        if self.type != "threshold":
            return self
        if self.lower is None and self.upper is None:
            raise ValueError("a threshold pruner needs lower, upper or both")
        if None not in (self.lower, self.upper) and not self.lower < self.upper:
            raise ValueError(f"lower must be below upper; got {self.lower} and {self.upper}")
        return self


class Dimension(_Section):
    """One searched value: exactly one of `choice`, `uniform`, `log_uniform`, `int`."""

    choice: list | None = Field(None, min_length=1)
    """Values to choose from."""
    uniform: list[float] | None = Field(None, min_length=2, max_length=2)
    """`[low, high]`: a float drawn uniformly."""
    log_uniform: list[float] | None = Field(None, min_length=2, max_length=2)
    """`[low, high]`: a float drawn uniformly on a log scale."""
    # Written `int:` in the config (a field may not be called int here).
    integer: list[int] | None = Field(None, min_length=2, max_length=2, alias="int")
    """`[low, high]`: a whole number (written `int:`)."""

    @property
    def kind(self) -> str:
        return next(k for k in ("choice", "uniform", "log_uniform", "integer") if getattr(self, k))

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("choice", "uniform", "log_uniform", "integer") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of choice, uniform, log_uniform, int")
        bounds = getattr(self, given[0])
        if given[0] != "choice" and not bounds[0] < bounds[1]:
            raise ValueError(f"{given[0]} bounds must rise; got {bounds}")
        if given[0] == "log_uniform" and bounds[0] <= 0:
            raise ValueError(f"log_uniform bounds must be > 0; got {bounds}")
        return self


class SweepSpec(_Section):
    """What `cbrun sweep` searches (ignored by `cbrun train`)."""

    objective: SweepObjective
    """What each trial is judged by."""
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    """Optuna's sampler: TPE, random, or every point of a grid of choices."""
    trials: int = Field(8, gt=0, le=MAX_TRIALS)
    """How many trials to finish."""
    seed: int = Field(0, ge=0, le=MAX_SEED)
    """The sampler's seed."""
    pruner: PrunerSpec = PrunerSpec()
    """When to stop a trial early."""
    space: dict[str, Dimension] = Field(min_length=1)
    """Config keys (`--set` paths, `backend` too) to the values searched."""
