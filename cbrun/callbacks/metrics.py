"""Which way each metric improves. No Keras here: the runs table uses it too."""

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
