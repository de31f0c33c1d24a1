"""`cbrun sweep --jobs`: worker processes on one study, killed with their parent, stopped
by Ctrl-C; the helpers the storage tests (test_sweep_storage.py) share."""

from __future__ import annotations

import contextlib
import glob
import json
import shutil
import signal
import time
from pathlib import Path

from tests.conftest import ROOT, run_cbrun, start_cbrun
from tests.sweep.test_study import _config

SLOW = (
    "plugins: [slow_steps]\n"
    "callbacks: [{name: 'slow_steps:SlowSteps', args: {step_seconds: 0.15, end_seconds: 0}}]"
)


def _study(storage: str, name: str):
    import optuna

    return optuna.load_study(study_name=name, storage=storage)


def _assert_each_trial_ran_once(trials, run_dirs, target):
    """Exactly `target` finished trials, each in its own run folder, trained once."""
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == target
    assert all(t.state.name != "RUNNING" for t in trials)
    folders = [t.user_attrs["run_dir"] for t in finished]
    assert len(set(folders)) == target and sorted(folders) == sorted(map(str, run_dirs))
    for folder in folders:
        summary = json.loads((Path(folder) / "summary.json").read_text())
        assert summary["status"] == "completed" and len(summary["segments"]) == 1


def _wait_all(processes, timeout=240):
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, out + err


def test_jobs_share_the_cores_and_a_killed_parent_takes_its_workers_along(tmp_path):
    config = _config(tmp_path, trials=3, extra=SLOW)
    shutil.copy(ROOT / "tests" / "plugins" / "slow_steps.py", tmp_path)
    parent = start_cbrun(
        "sweep", config, "--jobs", 2, "--runs-dir", tmp_path / "runs", cwd=tmp_path
    )
    checkpoints = str(tmp_path / "runs" / "*" / "trials" / "*" / "backup" / "epoch-*.json")
    deadline = time.monotonic() + 120
    while not glob.glob(checkpoints) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert glob.glob(checkpoints), parent.communicate(timeout=5)
    (folder,) = (tmp_path / "runs").iterdir()
    workers = _pool_of(parent.pid)
    parent.send_signal(signal.SIGKILL)
    out, _ = parent.communicate(timeout=30)
    assert "2 workers, 1 TensorFlow thread(s) each" in out
    for pid in workers:  # die with the parent (PR_SET_PDEATHSIG), not train on; the pool too
        _wait_gone(pid)

    resumed = run_cbrun("sweep", "--resume", folder, "--jobs", 2, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 of 3 trials finished; best: trial" in resumed.stdout
    state = json.loads((folder / "sweep.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["complete"] * 3
    summaries = [
        json.loads((Path(t["run_dir"]) / "summary.json").read_text()) for t in state["trials"]
    ]
    assert any(s["resumed"] for s in summaries)  # an interrupted trial went on from its checkpoint
    assert all(s["status"] == "completed" and s["epochs_run"] == 2 for s in summaries)


def _pool_of(parent: int) -> list[int]:
    """The pool forked by a running sweep's parent, and the two workers forked from it."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):  # gone meanwhile
            status = (entry / "status").read_text()
            parents[int(entry.name)] = int(status.split("\nPPid:\t")[1].split()[0])
    (pool,) = [pid for pid, of in parents.items() if of == parent]
    workers = [pid for pid, of in parents.items() if of == pool]
    assert len(workers) == 2, parents
    return [pool, *workers]


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status")
        with contextlib.suppress(OSError):
            if "\nState:\tZ" in status.read_text():
                return  # killed, waiting for its (dead) parent's reaper
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the sweep"


def test_ctrl_c_stops_every_worker_after_its_step_resumably(tmp_path):
    config = _config(tmp_path, trials=2, extra=SLOW)
    shutil.copy(ROOT / "tests" / "plugins" / "slow_steps.py", tmp_path)
    parent = start_cbrun(
        "sweep", config, "--jobs", 2, "--runs-dir", tmp_path / "runs", cwd=tmp_path
    )
    started = str(tmp_path / "runs" / "*" / "trials" / "*" / "train.log")
    checkpoints = str(tmp_path / "runs" / "*" / "trials" / "*" / "backup" / "epoch-*.json")
    deadline = time.monotonic() + 120
    while not glob.glob(checkpoints) and time.monotonic() < deadline:
        time.sleep(0.02)
    parent.send_signal(signal.SIGINT)  # a trial is in its second epoch
    out, err = parent.communicate(timeout=120)
    assert parent.returncode == 130, out + err
    (folder,) = (tmp_path / "runs").iterdir()
    assert out.splitlines()[-1] == f"interrupted: continue with: cbrun sweep --resume {folder}"
    statuses = [
        json.loads((Path(log).parent / "summary.json").read_text())["status"]
        for log in glob.glob(started)
    ]
    assert "interrupted" in statuses and set(statuses) <= {"interrupted", "completed"}
    # (--resume of interrupted trials: the kill -9 test above)


def test_ctrl_c_while_a_trial_is_set_up_stops_it_at_its_first_step(tmp_path):
    slow_setup = SLOW.replace("end_seconds: 0", "end_seconds: 0, setup_seconds: 3")
    config = _config(tmp_path, trials=2, extra=slow_setup.replace("0.15", "0.5"))
    shutil.copy(ROOT / "tests" / "plugins" / "slow_steps.py", tmp_path)
    sweep = start_cbrun("sweep", config, "--jobs", 1, "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    log = tmp_path / "runs" / "*" / "trials" / "trial-0000" / "train.log"
    deadline = time.monotonic() + 120
    while not glob.glob(str(log)) and time.monotonic() < deadline:
        time.sleep(0.02)
    sweep.send_signal(signal.SIGINT)  # in the plugin's 3 s constructor, before training
    out, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, out + err
    (trial,) = glob.glob(str(log.parent))
    summary = json.loads((Path(trial) / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] == 0  # not trained on
    assert "interrupted: continue with: cbrun sweep --resume" in out


def test_a_grid_is_shared_out_among_workers_each_point_once(tmp_path):
    config = _config(tmp_path, trials=6)
    config.write_text(
        config.read_text()
        .replace("sampler: random", "sampler: grid")
        .replace("{log_uniform: [1.0e-4, 1.0e-2]}", "{choice: [0.001, 0.01]}")
    )
    result = run_cbrun("sweep", config, "--jobs", 2, "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    assert "the grid has 4 points: 4 trials, not 6" in result.stdout
    (folder,) = (tmp_path / "runs").iterdir()
    trials = json.loads((folder / "sweep.json").read_text())["trials"]
    points = sorted(json.dumps(t["params"], sort_keys=True) for t in trials)
    assert [t["status"] for t in trials] == ["complete"] * 4 and len(set(points)) == 4
