"""Ctrl-C and SIGTERM stop a real training process cleanly, with their exit codes."""

from __future__ import annotations

import json
import signal

import pytest

from tests.conftest import ROOT, run_cbrun, start_cbrun


@pytest.mark.parametrize(
    "sig,code,status", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_signal_stops_after_the_step_and_leaves_a_complete_run(
    tiny_config, tmp_path, sig, code, status
):
    config = tiny_config("fit: {batch_size: 32, epochs: 1000, steps_per_epoch: 5}\n")
    proc = start_cbrun("train", config, "--runs-dir", tmp_path / "runs")
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


def test_a_second_ctrl_c_stops_at_once_and_the_run_still_resumes(tiny_config, tmp_path):
    import shutil

    config = tiny_config(
        "fit: {batch_size: 32, epochs: 3, steps_per_epoch: 5}\n"
        "plugins: [slow_steps]\n"
        "callbacks: [{name: 'slow_steps:SlowSteps', args: {step_seconds: 0.2, end_seconds: 600}}]\n"
    )
    shutil.copy(ROOT / "tests" / "plugins" / "slow_steps.py", config.parent)
    runs = tmp_path / "runs"
    proc = start_cbrun("train", config, "--runs-dir", runs, "--log-every", "1")
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2/3 step 1/5"):  # epoch 1 is checkpointed
                break
        proc.send_signal(signal.SIGINT)  # the first asks to stop after the current step
        for line in proc.stdout:
            if "stopped at step" in line:  # the stop began; now a 600 s wind-down
                break
        proc.send_signal(signal.SIGINT)  # the second does not wait for it
        out, err = proc.communicate(timeout=120)  # far less than the wind-down
    finally:
        proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    run = next(runs.iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["epochs_run"] == 1  # epoch 2 was cut short, and is not counted
    assert not list(run.rglob(".*.tmp-*"))
    assert f"interrupted: continue with: cbrun train --resume {run}" in out + err

    resumed = run_cbrun("train", "--resume", run, cwd=config.parent)  # the plugin is there
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 3
    with open(run / "history.csv") as f:
        assert [row.split(",")[0] for row in f.read().splitlines()[1:]] == ["1", "2", "3"]


def test_a_second_signal_while_the_summary_is_written_waits_for_it():
    from cbrun.run.signals import StopSignals

    stop = StopSignals()
    stop.handle(signal.SIGINT, None)
    assert stop.signal_name == "SIGINT"
    with pytest.raises(KeyboardInterrupt):
        with stop.hold():
            stop.handle(signal.SIGINT, None)  # recorded, not raised ...
            written = True  # ... so what hold() guards still completes
    assert written
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGINT, None)  # outside hold(): at once
