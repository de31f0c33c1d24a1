"""The test split evaluated with the config's `evaluate:` parameters.

At the end of `cbrun train`, and by `cbrun evaluate` on a finished run.
"""

from __future__ import annotations

import math

from cbrun.config.spec import RunSpec
from cbrun.data.datasets import Dataset
from cbrun.data.feeding import dropped_note, in_batches
from cbrun.output.logsink import LogSink


def evaluate_steps(spec: RunSpec, samples: int, sink: LogSink) -> int | None:
    """`evaluate.steps`, capped at the batches the test split holds (Keras warns past it)."""
    steps = spec.evaluate.steps
    available = math.ceil(samples / spec.evaluate.batch_size)
    if steps is not None and steps > available:
        sink.line(
            f"evaluate: {steps} steps asked, the test split has {available} batches of "
            f"{spec.evaluate.batch_size}; evaluating {available}"
        )
        return available
    return steps


def evaluate_on_test(model, spec: RunSpec, dataset: Dataset, sink: LogSink, callbacks) -> dict:
    """`model.evaluate` on the test split with the config's evaluate parameters."""
    batches = in_batches(
        dataset.x_test, dataset.y_test, batch_size=spec.evaluate.batch_size, scale=dataset.scale
    )
    if note := dropped_note("test", batches):
        sink.line(note)
    results = model.evaluate(
        batches,
        steps=evaluate_steps(spec, len(dataset.x_test), sink),
        verbose=0,
        return_dict=True,
        callbacks=callbacks,
    )
    return {key: float(value) for key, value in results.items()}
