"""Absurd sizes are one line before TensorFlow, exit 2, and nothing written."""

from __future__ import annotations

import pytest

from cbrun.catalog import limits
from tests.conftest import CONFIGS

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (f"fit.batch_size={HUGE}", f"fit.batch_size: must be <= {limits.MAX_BATCH}"),
        (f"fit.steps_per_epoch={HUGE}", f"fit.steps_per_epoch: must be <= {limits.MAX_STEPS}"),
        (f"fit.epochs={HUGE}", f"fit.epochs: must be <= {limits.MAX_EPOCHS}"),
        (f"fit.validation_steps={HUGE}", "fit.validation_steps: must be <="),
        (f"evaluate.batch_size={HUGE}", "evaluate.batch_size: must be <="),
        (f"evaluate.steps={HUGE}", "evaluate.steps: must be <="),
        (f"data.limit.train={HUGE}", f"data.limit.train: must be <= {limits.MAX_SAMPLES}"),
        ("data.num_classes=1000000000", f"data.num_classes: must be <= {limits.MAX_CLASSES}"),
        (f"logging.every={HUGE}", "logging.every: must be <="),
        ("distribute.logical_devices=100000", f"must be <= {limits.MAX_DEVICES}"),
        ("seed=-1", "seed: must be >= 0, got -1"),
        (f"seed={2**32}", f"seed: must be <= {2**32 - 1}"),
        ("sweep.trials=100000000000000000000", f"sweep.trials: must be <= {limits.MAX_TRIALS}"),
        ("sweep.seed=-3", "sweep.seed: must be >= 0"),
    ],
)
def test_an_out_of_range_value_is_one_line_and_nothing_is_written(override, message, cli, tmp_path):
    result = cli(
        "train", CONFIGS / "sweep_mlp.yaml", "--set", override, "--runs-dir", tmp_path / "runs"
    )
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: --set {override}: "), lines
    assert message in lines[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("sweep", CONFIGS / "sweep_mlp.yaml", "--jobs", limits.MAX_JOBS + 1),
        ("sweep", CONFIGS / "sweep_mlp.yaml", "--jobs", 0),
        ("sweep", CONFIGS / "sweep_mlp.yaml", "--trials", limits.MAX_TRIALS + 1),
        ("predict", "no-such-run", "--count", limits.MAX_PREDICT + 1),
        ("train", CONFIGS / "mnist_mlp.yaml", "--log-every", limits.MAX_STEPS + 1),
    ],
)
def test_command_line_counts_have_bounds_too(args, cli):
    result = cli(*args)
    assert result.exit_code == 2
    assert "is not in the range" in result.stderr
