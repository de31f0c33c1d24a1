"""Real filesystems that refuse writes: a read-only folder and a tiny tmpfs that fills up.

Mounting needs root (or CAP_SYS_ADMIN); where the test cannot mount, it skips
and says why. The injected-ENOSPC test in test_resume.py runs everywhere.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cbrun

# 784-128-10 with Adam: ~0.41 MB of weights, so a checkpoint (weights and two
# moments) is ~1.2 MB. The tmpfs below holds one checkpoint, not two.
CONFIG = """\
name: filler
seed: 0
data: {dataset: mnist, source: bundled, limit: {train: 256, test: 64}}
model: {name: mlp, args: {units: [128]}}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}
fit: {batch_size: 32, epochs: 3, steps_per_epoch: 2}
evaluate: {batch_size: 64, steps: 1}
"""


@pytest.fixture
def mount(tmp_path):
    """Mount a tmpfs with `options` at a fresh folder; unmounted after the test."""
    mounted = []

    def make(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_read_only_runs_folder_is_refused_before_anything_runs(mount, tmp_path):
    read_only = mount("read-only", "ro,size=64k")
    config = tmp_path / "filler.yaml"
    config.write_text(CONFIG)
    result = run_cbrun("train", config, "--runs-dir", read_only / "runs", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: --runs-dir: cannot write {read_only / 'runs'}: {read_only}: a read-only filesystem"
    )
    assert list(read_only.iterdir()) == []


def test_a_full_disk_keeps_the_last_checkpoint_and_the_run_resumes_after_space_is_freed(
    mount, tmp_path
):
    disk = mount("disk", "size=1800k")
    config = tmp_path / "filler.yaml"
    config.write_text(CONFIG)
    run = disk / "run"
    failed = run_cbrun("train", config, "--run-dir", run, cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert failed.stderr.strip() == (
        f"Error: cannot save the checkpoint of epoch 2 in {run}: No space left on device; the "
        f"previous checkpoint is intact (resume with: cbrun train --resume {run})"
    )
    assert sorted(p.name for p in (run / "backup").iterdir()) == [
        "epoch-000001.json",
        "epoch-000001.npz",
    ]
    assert not list(run.rglob(".*.tmp-*"))
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"

    subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
    resumed = run_cbrun("train", "--resume", run, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {run} at epoch 2/3" in resumed.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 3
