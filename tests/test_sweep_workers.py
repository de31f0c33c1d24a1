"""Several processes on one study: `--jobs`, independent processes on one storage
(SQLite, and a real PostgreSQL server where its binaries are installed)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cbrun, start_cbrun
from tests.test_sweep import _config

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


def test_two_processes_on_one_storage_finish_exactly_the_asked_trials(tmp_path):
    config = _config(tmp_path, trials=5)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    processes = [
        start_cbrun(
            "sweep", config, "--storage", storage, "--study", "shared", "--jobs", 1,
            "--runs-dir", tmp_path / f"runs-{index}",
        )
        for index in range(2)
    ]  # fmt: skip
    _wait_all(processes)
    trials = _study(storage, "shared").get_trials()
    run_dirs = glob.glob(str(tmp_path / "runs-*" / "*" / "trials" / "trial-*"))
    _assert_each_trial_ran_once(trials, run_dirs, 5)
    values = [json.dumps(t.user_attrs["values"]) for t in trials if t.state.name == "COMPLETE"]
    assert len(set(values)) == 5  # the workers did not draw the same values
    for index in range(2):  # each process wrote its folder's view of the whole study
        (sweep,) = (tmp_path / f"runs-{index}").iterdir()
        state = json.loads((sweep / "sweep.json").read_text())
        assert state["study"] == "shared" and len(state["trials"]) == 5
        assert (sweep / "best.yaml").is_file()


def test_jobs_share_the_cores_and_a_killed_parent_takes_its_workers_along(tmp_path):
    config = _config(tmp_path, trials=4, extra=SLOW)
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
    workers = _workers_of(folder)
    parent.send_signal(signal.SIGKILL)
    out, _ = parent.communicate(timeout=30)
    assert "2 workers, 1 TensorFlow thread(s) each" in out
    for pid in workers:  # die with the parent (PR_SET_PDEATHSIG), not train on
        _wait_gone(pid)

    resumed = run_cbrun("sweep", "--resume", folder, "--jobs", 2, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "4 of 4 trials finished; best: trial" in resumed.stdout
    state = json.loads((folder / "sweep.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["complete"] * 4
    summaries = [
        json.loads((Path(t["run_dir"]) / "summary.json").read_text()) for t in state["trials"]
    ]
    assert any(s["resumed"] for s in summaries)  # an interrupted trial went on from its checkpoint
    assert all(s["status"] == "completed" and s["epochs_run"] == 2 for s in summaries)


def _workers_of(folder: Path) -> list[int]:
    """The worker processes of a running sweep (their command line names its folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"cbrun.sweep_workers" in argv and str(folder).encode() in argv:
                found.append(int(entry.name))
    assert len(found) == 2, found
    return found


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status")
        with contextlib.suppress(OSError):
            if "\nState:\tZ" in status.read_text():
                return  # killed, waiting for its (dead) parent's reaper
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the sweep"


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@pytest.fixture
def postgres():
    """A PostgreSQL server from the Debian binaries, in a temporary folder on 127.0.0.1;
    its SQLAlchemy URL. Skipped, with the reason, where they or the driver are missing."""
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL binaries (Debian package postgresql) are not installed")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is not installed")
    folder = Path(tempfile.mkdtemp(prefix="cbrun-pg-"))
    as_user = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data, pg_ctl = folder / "data", [*as_user, str(binaries / "pg_ctl"), "-D", str(folder / "data")]
    try:
        subprocess.run(
            [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "cbrun", "--auth=trust"],
            check=True, capture_output=True,
        )  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [*pg_ctl, "-l", str(folder / "server.log"), "-w", "-o", options, "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql+psycopg2://cbrun@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_processes_share_a_study_on_a_real_postgresql_server(tmp_path, postgres):
    config = _config(tmp_path, trials=4)
    processes = [
        start_cbrun(
            "sweep", config, "--storage", postgres, "--study", "pg", "--jobs", 1,
            "--runs-dir", tmp_path / f"runs-{index}",
        )
        for index in range(2)
    ]  # fmt: skip
    _wait_all(processes)
    run_dirs = glob.glob(str(tmp_path / "runs-*" / "*" / "trials" / "trial-*"))
    _assert_each_trial_ran_once(_study(postgres, "pg").get_trials(), run_dirs, 4)
    (sweep,) = (tmp_path / "runs-0").iterdir()
    state = json.loads((sweep / "sweep.json").read_text())
    assert state["storage"] == postgres and len(state["trials"]) == 4


def test_a_storage_that_cannot_be_opened_is_one_line_and_leaves_nothing(tmp_path, cli):
    url = "postgresql+nosuchdriver://cbrun@127.0.0.1:1/x"
    result = cli("sweep", _config(tmp_path), "--storage", url, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: --storage {url}: ")
    assert not any((tmp_path / "runs").iterdir())


def test_ctrl_c_stops_every_worker_after_its_epoch_and_the_sweep_resumes(tmp_path):
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
    resumed = run_cbrun("sweep", "--resume", folder, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    state = json.loads((folder / "sweep.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["complete"] * 2
