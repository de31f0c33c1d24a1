"""Learning-rate schedules: the checks, and the rate of every epoch for all four types."""

from __future__ import annotations

import math

import pytest

from cbrun.catalog.schedules import build_schedule, schedule_problems


def _rates(spec, epochs, initial=0.1):
    schedule = build_schedule(spec, initial)
    return [schedule(epoch, 123.0) for epoch in range(epochs)]  # the lr given is ignored


def test_table_keeps_the_initial_rate_until_its_first_row():
    spec = {"type": "table", "table": [[3, 0.05], [6, 0.01]]}
    assert _rates(spec, 8) == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01]


def test_step_multiplies_every_n_epochs():
    assert _rates({"type": "step", "every": 2, "factor": 0.5}, 5) == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025]
    )


def test_exponential_decays_each_epoch():
    assert _rates({"type": "exponential", "rate": 0.9}, 4) == pytest.approx(
        [0.1, 0.09, 0.081, 0.0729]
    )


def test_cosine_runs_from_the_initial_rate_to_min_lr_and_stays():
    rates = _rates({"type": "cosine", "epochs": 4, "min_lr": 0.01}, 6)
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * min(e, 4) / 4)) / 2 for e in range(6)]
    assert rates == pytest.approx(expected)
    assert rates[0] == pytest.approx(0.1) and rates[2] == pytest.approx(0.055)
    assert rates[4] == rates[5] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "spec,problems",
    [
        (
            {"type": "tabel"},
            [
                (
                    ("type",),
                    "must be one of table, step, exponential, cosine; got "
                    "'tabel' (did you mean 'table'?)",
                )
            ],
        ),
        (
            {"type": "step", "every": 0, "factor": 0.5},
            [(("every",), "must be a positive integer (epochs); got 0")],
        ),
        (
            {"type": "step", "every": 2},
            [((), "a step schedule needs 'factor': a number in (0, 1]")],
        ),
        (
            {"type": "exponential", "rate": 1.5},
            [(("rate",), "must be a number in (0, 1]; got 1.5")],
        ),
        (
            {"type": "cosine", "epochs": 3, "min_lr": -1},
            [(("min_lr",), "must be a number >= 0 (default 0); got -1")],
        ),
        (
            {"type": "table", "table": [[6, 0.01], [3, 0.05]]},
            [
                (
                    ("table",),
                    "must be a list of "
                    "[epoch, learning_rate] "
                    "pairs, epochs rising; "
                    "got [[6, 0.01], [3, 0.05]]",
                )
            ],
        ),
        (
            {"type": "exponential", "rate": 0.9, "rat": 1},
            [(("rat",), "unknown argument of a exponential schedule (did you mean 'rate'?)")],
        ),
        (
            {"type": "step", "every": True, "factor": 0.5},
            [(("every",), "must be a positive integer (epochs); got True")],
        ),
        ("step", [((), "a schedule is a mapping such as {type: table, table: [[3, 0.05]]}")]),
    ],
)
def test_schedule_problems(spec, problems):
    assert schedule_problems(spec) == problems


def test_a_valid_schedule_has_no_problem():
    assert schedule_problems({"type": "cosine", "epochs": 15}) == []
