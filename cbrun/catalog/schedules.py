"""Learning-rate schedules declared in YAML, as plain functions of the epoch.

Each schedule is stateless: the rate for an epoch depends only on the epoch and
the optimizer's initial rate, so a resumed run gets exactly the rates an
uninterrupted one would. No TensorFlow here.

```yaml
schedule: {type: table, table: [[3, 0.05], [6, 0.01], [9, 0.005], [12, 0.001]]}
schedule: {type: step, every: 10, factor: 0.5}
schedule: {type: exponential, rate: 0.9}
schedule: {type: cosine, epochs: 15, min_lr: 0.0}
```
"""

from __future__ import annotations

import math
from collections.abc import Callable

from cbrun.catalog.registry import did_you_mean

# type → {argument: (type check, meaning)}
SCHEDULE_ARGUMENTS = {
    "table": {"table": "a list of [epoch, learning_rate] pairs, epochs rising"},
    "step": {"every": "a positive integer (epochs)", "factor": "a number in (0, 1]"},
    "exponential": {"rate": "a number in (0, 1]"},
    "cosine": {"epochs": "a positive integer", "min_lr": "a number >= 0 (default 0)"},
}
_OPTIONAL = {("cosine", "min_lr")}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def schedule_problems(spec) -> list[tuple[tuple, str]]:
    """Check a schedule mapping; return `(sub-path, message)` for each problem."""
    if not isinstance(spec, dict):
        return [((), "a schedule is a mapping such as {type: table, table: [[3, 0.05]]}")]
    kind = spec.get("type")
    if kind not in SCHEDULE_ARGUMENTS:
        kinds = ", ".join(SCHEDULE_ARGUMENTS)
        hint = did_you_mean(kind, SCHEDULE_ARGUMENTS) if isinstance(kind, str) else ""
        return [(("type",), f"must be one of {kinds}; got {kind!r}{hint}")]
    allowed = SCHEDULE_ARGUMENTS[kind]
    problems = []
    for key in spec:
        if key != "type" and key not in allowed:
            problems.append(
                ((key,), f"unknown argument of a {kind} schedule{did_you_mean(key, allowed)}")
            )
    for key, meaning in allowed.items():
        if key not in spec:
            if (kind, key) not in _OPTIONAL:
                problems.append(((), f"a {kind} schedule needs '{key}': {meaning}"))
            continue
        value = spec[key]
        ok = {
            "table": lambda v: (
                isinstance(v, list)
                and v
                and all(
                    isinstance(p, list)
                    and len(p) == 2
                    and _positive_or_zero_int(p[0])
                    and _number(p[1])
                    and p[1] > 0
                    for p in v
                )
                and [p[0] for p in v] == sorted({p[0] for p in v})
            ),
            "every": _positive_int,
            "epochs": _positive_int,
            "factor": lambda v: _number(v) and 0 < v <= 1,
            "rate": lambda v: _number(v) and 0 < v <= 1,
            "min_lr": lambda v: _number(v) and v >= 0,
        }[key](value)
        if not ok:
            problems.append(((key,), f"must be {meaning}; got {value!r}"))
    return problems


def _positive_or_zero_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def table_rate(table, epoch: int, initial: float) -> float:
    """The rate of the last `[start, rate]` row with `start <= epoch`, else `initial`."""
    rate = initial
    for start, value in table:
        if epoch >= start:
            rate = float(value)
    return rate


def build_schedule(spec: dict, initial_lr: float) -> Callable[[int, float], float]:
    """A `schedule(epoch, lr) -> lr` function for `keras.callbacks.LearningRateScheduler`.

    Args:
        spec: a schedule mapping already checked by `schedule_problems`.
        initial_lr: the optimizer's learning rate before training.
    """
    kind = spec["type"]

    def schedule(epoch: int, lr: float) -> float:
        if kind == "table":
            return table_rate(spec["table"], epoch, initial_lr)
        if kind == "step":
            return initial_lr * spec["factor"] ** (epoch // spec["every"])
        if kind == "exponential":
            return initial_lr * spec["rate"] ** epoch
        low = spec.get("min_lr", 0.0)
        progress = min(epoch, spec["epochs"]) / spec["epochs"]
        return low + (initial_lr - low) * (1 + math.cos(math.pi * progress)) / 2

    schedule.spec = dict(spec)
    return schedule
