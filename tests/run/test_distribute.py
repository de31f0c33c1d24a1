"""tf.distribute from the config, on this one machine."""

from __future__ import annotations

import json

from tests.conftest import ROOT, run_cbrun


def test_mirrored_over_two_logical_cpus(tiny_config, tmp_path):
    config = tiny_config("""
        distribute: {strategy: mirrored, logical_devices: 2}
        fit: {batch_size: 32, epochs: 2, steps_per_epoch: 3}
    """)
    # A fresh process: logical devices must be set before TensorFlow sets up its devices.
    out = run_cbrun("train", config, "--run-dir", tmp_path / "run")
    assert out.returncode == 0, out.stderr
    assert "distribute: mirrored over 2 replicas" in out.stdout
    assert "global batch 32 = 16 per replica" in out.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["distribute"] == {"strategy": "mirrored", "replicas": 2, "global_batch": 32}
    assert summary["status"] == "completed" and summary["evaluate"]["loss"] > 0


def test_batch_must_split_over_replicas(tiny_config, tmp_path):
    config = tiny_config("""
        distribute: {strategy: mirrored, logical_devices: 2}
        fit: {batch_size: 33, epochs: 1, steps_per_epoch: 1}
    """)
    out = run_cbrun("train", config, "--runs-dir", tmp_path / "r")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "Error: fit.batch_size 33 (the global batch) does not split evenly over 2 replicas"
    )
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_mirrored_run_resumes_after_kill(tmp_path):
    import shutil

    shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", tmp_path)
    config = tmp_path / "mirrored.yaml"
    config.write_text(
        "name: mirrored\n"
        "plugins: [kill_switch]\n"
        "data: {dataset: mnist, source: bundled, limit: {train: 640, test: 128}}\n"
        "model: {name: mlp, args: {units: [16]}}\n"
        "compile: {optimizer: adam, loss: sparse_categorical_crossentropy}\n"
        "fit: {batch_size: 32, epochs: 4, steps_per_epoch: 3}\n"
        "distribute: {strategy: mirrored, logical_devices: 2}\n"
        "callbacks: [{name: 'kill_switch:KillSwitch', args: {epoch: 2, batch: 1}}]\n"
    )
    run = tmp_path / "run"

    assert run_cbrun("train", config, "--run-dir", run, cwd=tmp_path).returncode == -9
    resumed = run_cbrun("train", "--resume", run, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {run} at epoch 3/4" in resumed.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 4
