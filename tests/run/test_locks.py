"""One run folder, one process: an OS lock on the folder, released by the kernel.

The lock is held by a real second process (`python -c`, no TensorFlow), so the refusal
is the one two terminals would see; a SIGKILLed holder shows that a lock left by a dead
process is simply taken over.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys

import pytest
import yaml

from cbrun.errors import RunDirError
from cbrun.output.rundir import RunDir
from tests.conftest import ROOT, TINY, run_cbrun

HOLD = (
    "import sys, time\n"
    "from cbrun.output.rundir import RunDir\n"
    "RunDir(sys.argv[1]).lock()\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


def release(holder) -> None:
    holder.kill()
    holder.wait()
    holder.stdout.close()


def hold(folder):
    """A process that holds the folder's lock until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def contents(folder) -> dict:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def killed_run(tmp_path):
    """A run SIGKILLed in its second epoch: unfinished, its lock gone with its process."""
    shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", tmp_path)
    config = yaml.safe_load(TINY)
    config["plugins"] = ["kill_switch"]
    marker = tmp_path / "killed"
    config["callbacks"] = [
        {"name": "kill_switch:KillSwitch", "args": {"epoch": 1, "batch": 1, "marker": str(marker)}}
    ]
    path = tmp_path / "killable.yaml"
    path.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    done = run_cbrun("train", path, "--run-dir", run, cwd=tmp_path)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert json.loads((run / "summary.json").read_text())["status"] == "running"
    return run


def test_a_second_resume_is_refused_while_the_folder_is_held(killed_run, cli):
    holder = hold(killed_run)
    try:
        before = contents(killed_run)
        result = cli("train", "--resume", killed_run)
        assert result.exit_code == 2
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"Error: {killed_run} is in use by another cbrun process")
        assert "a lock left by a killed process is released with it" in line
        assert contents(killed_run) == before  # nothing written, nothing lost
    finally:
        release(holder)
    # The holder died (SIGKILL): its lock went with it, and the resume takes over.
    result = cli("train", "--resume", killed_run)
    assert result.exit_code == 0, result.output
    assert json.loads((killed_run / "summary.json").read_text())["status"] == "completed"


def test_a_run_killed_while_training_is_resumed_without_a_stale_lock(killed_run, cli):
    result = cli("train", "--resume", killed_run)
    assert result.exit_code == 0, result.output
    # Released at the end: this process can take the folder again.
    RunDir(killed_run).lock().unlock()


def test_evaluate_does_not_write_into_a_held_run(tiny_config, train, cli):
    _, run = train(tiny_config())
    holder = hold(run)
    try:
        result = cli("evaluate", run)
        assert result.exit_code == 2 and "is in use by another cbrun process" in result.stderr
        assert not (run / "evaluate.json").exists()
    finally:
        release(holder)
    assert cli("evaluate", run).exit_code == 0
    assert (run / "evaluate.json").is_file()


def test_a_lock_is_per_folder_and_refuses_a_second_holder(tmp_path):
    first, second = RunDir(tmp_path).lock(), RunDir(tmp_path)
    try:
        with pytest.raises(RunDirError, match="in use by another cbrun process"):
            second.lock()
        RunDir(tmp_path.parent).lock().unlock()  # another folder is free
    finally:
        first.unlock()
    second.lock().unlock()
