"""Ctrl-C and SIGTERM stop a real training process cleanly, with their exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "sig,code,status", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_signal_stops_after_the_step_and_leaves_a_complete_run(
    tiny_config, tmp_path, sig, code, status
):
    config = tiny_config("fit: {batch_size: 32, epochs: 1000, steps_per_epoch: 5}\n")
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cbrun", "train", str(config), "--runs-dir", str(tmp_path / "runs")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2/1000"):
                break
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    run = next((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == status
    assert 2 <= summary["epochs_run"] < 1000
    assert (run / "model.keras").is_file()
    assert not list(run.glob(".*.tmp-*"))
    with open(run / "history.csv") as f:
        assert len(f.read().splitlines()) == summary["epochs_run"] + 1
