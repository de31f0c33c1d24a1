"""Which way each metric improves, and each metric's best epoch. No Keras here:
the runs table uses it too."""

import math

# Metrics where a smaller value is better; anything else (accuracy, auc...) is better larger.
_LOWER_IS_BETTER = (
    "loss",
    "error",
    "mae",
    "mse",
    "mape",
    "msle",
    "crossentropy",
    "hinge",
    "divergence",
    "poisson",
    "cosh",
)


def lower_is_better(metric: str) -> bool:
    name = metric.removeprefix("val_")
    return any(part in name for part in _LOWER_IS_BETTER)


def best_epochs(history: list[dict]) -> dict:
    """`{metric: (epoch, value)}`: the best finite value of every metric, by its direction."""
    best: dict = {}
    for row in history:
        for key, value in row.items():
            if key in ("epoch", "learning_rate") or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                continue
            held = best.get(key)
            if held is None or (value < held[1] if lower_is_better(key) else value > held[1]):
                best[key] = (row["epoch"], value)
    return best
