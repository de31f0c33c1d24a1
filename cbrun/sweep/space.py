"""A config's `sweep:` section turned into Optuna's parts: the checked space, the
sampler, the pruner, and each trial's values as `--set` overrides.

Nothing here imports TensorFlow; Optuna only once a sampler or pruner is made.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path

import yaml

from cbrun.config.loading import load_config, sorted_capped
from cbrun.config.source import load_document
from cbrun.config.spec import RunSpec
from cbrun.errors import ConfigError, Problem, UsageError


def overrides_for(params: dict) -> list[str]:
    """Sampled values as `--set` overrides (YAML flow text, as on a command line)."""
    return [
        f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"
        for key, value in params.items()
    ]


def space_summary(space: dict) -> dict:
    """`{key: {kind: values}}`: the space as sweep.json keeps it (what plots read)."""
    return {key: {d.kind: getattr(d, d.kind)} for key, d in space.items()}


def _samples(dimension) -> list:
    """The values a dimension is checked with before any trial: every choice, the bounds."""
    return list(getattr(dimension, dimension.kind))


def check_sweep(config: Path, spec: RunSpec) -> None:
    """Every space key is a config path and every value it can take validates as a `--set`
    would; the objective is a key the run logs. One line per problem, as for any config."""
    from cbrun.config.rules import logged_keys

    if spec.sweep is None:
        raise UsageError(f"{config}: no sweep: section (objective, space, ...) to run")
    doc = load_document(config)  # for the file:line of each problem below

    def where(*path) -> str:
        return doc.where(("sweep", *path), key=True)

    problems = []
    for key, dimension in spec.sweep.space.items():
        for value in _samples(dimension):
            try:
                load_config(config, overrides_for({key: value}))
            except ConfigError as error:
                # A sampled value's problem is the space key's, at its line in the file.
                found = [
                    Problem(where("space", key), p.path, p.message)
                    if p.where.startswith("--set ")
                    else p
                    for p in error.problems
                ]
                problems.extend(p for p in found if p not in problems)
                break

    if spec.sweep.sampler == "grid":
        problems.extend(
            Problem(
                where("space", key),
                f"sweep.space.{key}",
                f"sampler grid takes choice lists, not {d.kind}",
            )
            for key, d in spec.sweep.space.items()
            if d.kind != "choice"
        )
    keys = logged_keys(spec)
    monitor = spec.sweep.objective.monitor
    if monitor not in keys:
        from cbrun.catalog.registry import did_you_mean

        message = f"the run never logs '{monitor}'; it logs {', '.join(sorted(keys))}"
        problems.append(
            Problem(
                where("objective", "monitor"),
                "sweep.objective.monitor",
                message + did_you_mean(monitor, keys),
            )
        )
    if problems:
        raise ConfigError(sorted_capped(problems))


def trial_seed(seed: int, trial_number: int) -> int:
    """A sampler seed for one trial of a sweep seeded `seed`: the values then depend on the
    trial, not on which worker draws it or on a resume (workers started together would
    otherwise all draw the same values). Hashed, so that sweeps seeded 0 and 1 do not share
    all but one trial, as `seed + number` would."""
    digest = hashlib.sha256(f"cbrun-sweep/{seed}/{trial_number}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def make_sampler(spec: RunSpec, trial_number: int = 0):
    """The sampler for one trial (see `trial_seed`)."""
    import optuna

    sweep = spec.sweep
    seed = trial_seed(sweep.seed, trial_number)
    if sweep.sampler in ("random", "grid"):  # a grid sweep's values: `grid_point`
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def grid_points(spec: RunSpec) -> int | None:
    """How many points a grid sweep has (None for the other samplers)."""
    if spec.sweep.sampler != "grid":
        return None
    return math.prod(len(d.choice or ()) for d in spec.sweep.space.values())


def grid_point(spec: RunSpec, index: int) -> dict:
    """A grid sweep's point `index`, in the order of the space's keys and choices.

    cbrun hands out the points itself rather than through Optuna's GridSampler, which
    may give two parallel workers the same point and, asked outside `optimize`, fails
    once the grid is done (`Study.stop`)."""
    space = spec.sweep.space
    point = list(itertools.product(*(d.choice for d in space.values())))[index]
    return dict(zip(space, point, strict=True))


def make_pruner(spec: RunSpec):
    import optuna

    pruner = spec.sweep.pruner
    if pruner.type == "median":
        startup = pruner.startup_trials
        if startup is None:
            startup = min(5, max(1, spec.sweep.trials // 4))
        return optuna.pruners.MedianPruner(
            n_startup_trials=startup, n_warmup_steps=pruner.warmup_epochs
        )
    if pruner.type == "threshold":
        return optuna.pruners.ThresholdPruner(
            lower=pruner.lower, upper=pruner.upper, n_warmup_steps=pruner.warmup_epochs
        )
    return optuna.pruners.NopPruner()


def _choices(dimension) -> list:
    """What Optuna picks from: the values, or their indices when a value is a list or a
    mapping (Optuna's categorical values are scalars)."""
    values = list(dimension.choice)
    plain = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
    return values if plain else list(range(len(values)))


def suggest(trial, key: str, dimension):
    """One value of `dimension` for `trial`, as the config takes it."""
    kind, values = dimension.kind, getattr(dimension, dimension.kind)
    if kind == "choice":
        picked = trial.suggest_categorical(key, _choices(dimension))
        return picked if _choices(dimension) == list(values) else values[picked]
    if kind == "integer":
        return trial.suggest_int(key, values[0], values[1])
    return trial.suggest_float(key, values[0], values[1], log=kind == "log_uniform")
