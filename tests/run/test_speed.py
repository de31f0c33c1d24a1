"""Hook-aware steps_per_execution: behaviour, not time (the timings are in bench/)."""

from __future__ import annotations

import csv
import json

import pytest


def _summary(run):
    return json.loads((run / "summary.json").read_text())


def test_auto_runs_many_steps_per_call_without_batch_callbacks(tiny_config, train):
    result, run = train(tiny_config("fit: {batch_size: 32, epochs: 2}\n"))
    assert result.exit_code == 0, result.output
    assert _summary(run)["steps_per_execution"] == 32
    assert "steps_per_execution 32: no callback needs every batch hook" in result.stdout


def test_auto_stays_at_one_with_a_batch_callback(tiny_config, train):
    result, run = train(tiny_config("callbacks: [BatchTimestamps]\n"))
    assert result.exit_code == 0, result.output
    assert _summary(run)["steps_per_execution"] == 1
    assert "steps_per_execution 1: BatchTimestamps needs every batch hook" in result.stdout


@pytest.mark.parametrize("spe", [1, 8])
def test_logger_step_counts_are_exact_under_chunks(tiny_config, train, spe):
    # 640 images / 32 = 20 steps per epoch: with 8 steps per call the last call has 4.
    result, run = train(
        tiny_config("fit: {batch_size: 32, epochs: 1}\n"),
        "--set",
        f"fit.steps_per_execution={spe}",
        "--log-every",
        "1",
    )
    assert result.exit_code == 0, result.output
    steps = [
        line.split(" step ")[1].split()[0]
        for line in result.stdout.splitlines()
        if line.startswith("epoch 1/1 step ")
    ]
    expected = [f"{n}/20" for n in (range(1, 21) if spe == 1 else (8, 16, 20))]
    assert steps == expected


def test_same_seed_same_loss_whatever_the_steps_per_execution(tiny_config, train):
    losses = []
    for spe in (1, 32):
        result, run = train(
            tiny_config("fit: {batch_size: 32, epochs: 2}\n"),
            "--set",
            f"fit.steps_per_execution={spe}",
        )
        assert result.exit_code == 0, result.output
        with open(run / "history.csv") as f:
            losses.append([float(r["loss"]) for r in csv.DictReader(f)])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
