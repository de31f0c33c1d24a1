"""Never lose a run: SIGKILL anywhere, resume, and get bit-for-bit the same model.

Each scenario runs real `cbrun` processes: one killed at a chosen point, then
`cbrun train --resume`; the final weights and optimizer variables must equal
those of an uninterrupted run exactly (op determinism on, no dropout).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import run_cbrun

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
name: resumable
seed: 3
deterministic: true
plugins: [kill_switch]
data: {{dataset: mnist, source: bundled, limit: {{train: 512, test: 128}}, validation_split: 0.25}}
model: {{name: mlp, args: {{units: [16]}}}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.01}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 32, epochs: 6, steps_per_epoch: 4}}
evaluate: {{batch_size: 64, steps: 2}}
callbacks:
  - name: EarlyStopping
    args: {{monitor: val_loss, patience: 20, restore_best_weights: false}}
  - name: ReduceLROnPlateau
    args: {{monitor: loss, factor: 0.5, patience: 1}}
  - name: CSVLogger
    args: {{filename: epochs.csv}}
  - name: kill_switch:KillSwitch
    args: {{epoch: {epoch}, batch: 1, marker: {marker}}}
"""


def _train(config: Path, run: Path, fault: str | None = None):
    """`cbrun train CONFIG --run-dir RUN` in the config's folder, with an optional CBRUN_FAULT."""
    env = {"CBRUN_FAULT": fault} if fault else None
    return run_cbrun("train", config, "--run-dir", run, cwd=config.parent, env=env)


def _resume(run: Path, config: Path, *extra):
    """`cbrun train --resume RUN` in this process: only a run that is killed needs its own
    (`config` is unused: the run's config.yaml records where its plugins are)."""
    from click.testing import CliRunner

    from cbrun.cli.main import cli

    args = ["train", "--resume", str(run), *map(str, extra)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def _setup(folder: Path, kill_epoch: int) -> Path:
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", folder)
    config = folder / "resumable.yaml"
    config.write_text(CONFIG.format(epoch=kill_epoch, marker=folder / "killed"))
    return config


def _final_state(run: Path):
    import keras

    model = keras.models.load_model(run / "model.keras")
    return model.get_weights(), [v.numpy() for v in model.optimizer.variables]


def _history(run: Path):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("baseline") / "work"
    config = _setup(folder, kill_epoch=-1)
    done = _train(config, folder / "run")
    assert done.returncode == 0, done.stderr
    return folder / "run"


@pytest.fixture(scope="module")
def killed_in_epoch_4(tmp_path_factory):
    """A work folder whose run was SIGKILLed in epoch 4 (after epoch 3's checkpoint), once
    for the module; each test that damages or resumes it works on a copy (`_copy_of`)."""
    folder = tmp_path_factory.mktemp("killed") / "work"
    config = _setup(folder, kill_epoch=3)
    killed = _train(config, folder / "run")
    assert killed.returncode == -9, killed.stderr
    return folder


def _copy_of(killed: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(config, run) of a copy of the killed work folder. Its marker is copied too, so the
    kill switch does not fire again on resume."""
    folder = shutil.copytree(killed, tmp_path / "work")
    return folder / "resumable.yaml", folder / "run"


def _assert_same_as(baseline: Path, run: Path):
    weights, optimizer = _final_state(run)
    base_weights, base_optimizer = _final_state(baseline)
    assert len(weights) == len(base_weights) and len(optimizer) == len(base_optimizer)
    for got, want in zip(weights + optimizer, base_weights + base_optimizer, strict=True):
        assert np.array_equal(got, want)
    rows, base_rows = _history(run), _history(baseline)
    assert [r["epoch"] for r in rows] == [str(e) for e in range(1, 7)]  # none missing or repeated
    for row, base in zip(rows, base_rows, strict=True):
        assert row == base  # every metric and the learning rate, epoch by epoch
    # The user's own CSVLogger (append: false) is appended to on resume, not truncated.
    with open(run / "epochs.csv") as f, open(baseline / "epochs.csv") as g:
        assert list(csv.DictReader(f)) == list(csv.DictReader(g))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 6
    # A finished run keeps its last checkpoint only: what continuing it starts from.
    assert sorted(p.name for p in (run / "backup").iterdir()) == [
        "epoch-000006.json",
        "epoch-000006.npz",
    ]
    assert not list(run.glob(".*.tmp-*"))


SCENARIOS = {
    # name: (kill epoch for the plugin, CBRUN_FAULT, the checkpoint the resume starts from)
    "mid-epoch": (3, None, 3),
    "during the end-of-epoch save": (-1, "kill-before-rename:epoch-000004.json:1", 3),
    "just after the save": (-1, "kill-after-rename:epoch-000004.json:1", 4),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sigkill_then_resume_is_exact(scenario, baseline, killed_in_epoch_4, tmp_path):
    kill_epoch, fault, resumes_at = SCENARIOS[scenario]
    if fault is None:  # killed by the switch in epoch 4: the module's shared run
        config, run = _copy_of(killed_in_epoch_4, tmp_path)
    else:
        config = _setup(tmp_path / "work", kill_epoch)
        run = tmp_path / "work" / "run"
        killed = _train(config, run, fault)
        assert killed.returncode == -9, killed.stderr
    assert json.loads((run / "summary.json").read_text())["status"] == "running"
    resumed = _resume(run, config)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {run} at epoch {resumes_at + 1}/6" in resumed.stdout
    _assert_same_as(baseline, run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed"][0]["at_epoch"] == resumes_at


def test_kill_between_write_and_rename_keeps_the_old_file(baseline, tmp_path):
    config = _setup(tmp_path / "work", -1)
    run = tmp_path / "work" / "run"
    killed = _train(config, run, "kill-before-rename:history.csv:2")
    assert killed.returncode == -9
    assert len(_history(run)) == 1  # the old history.csv, whole
    strays = list(run.glob(".history.tmp-*.csv"))
    assert len(strays) == 1  # the new one never replaced it
    resumed = _resume(run, config)
    assert resumed.returncode == 0, resumed.stderr
    assert not strays[0].exists()
    _assert_same_as(baseline, run)


def _lacking_a_part(newest, damage):
    """A checkpoint that parses but lacks a part: a JSON key, a typed value, an array."""
    state_file = newest.with_suffix(".json")
    state = json.loads(state_file.read_text())
    if damage == "json without a key":
        del state["history"]
    elif damage == "json with a wrong type":
        state["epoch_seconds"] = "soon"
    else:
        with np.load(newest) as npz:
            arrays = {k: npz[k] for k in npz.files if k != "model/1"}
        np.savez(newest, **arrays)
    state_file.write_text(json.dumps(state))


@pytest.mark.parametrize(
    "damage",
    [
        "empty",
        "truncated",
        "random",
        "json without a key",
        "json with a wrong type",
        "npz without an array",
    ],
)
def test_damaged_checkpoint_falls_back_to_the_one_before(
    damage, baseline, killed_in_epoch_4, tmp_path
):
    config, run = _copy_of(killed_in_epoch_4, tmp_path)
    newest = run / "backup" / "epoch-000003.npz"
    data = newest.read_bytes()
    if damage in ("empty", "truncated", "random"):
        newest.write_bytes(
            {"empty": b"", "truncated": data[: len(data) // 2], "random": os.urandom(len(data))}[
                damage
            ]
        )
    else:
        _lacking_a_part(newest, damage)
    resumed = _resume(run, config)
    assert resumed.returncode == 0, resumed.stderr
    assert "checkpoint epoch-000003 is damaged" in resumed.stdout
    assert f"resuming {run} at epoch 3/6" in resumed.stdout
    _assert_same_as(baseline, run)


def test_no_readable_checkpoint_stops_with_one_line(killed_in_epoch_4, tmp_path):
    config, run = _copy_of(killed_in_epoch_4, tmp_path)
    for npz in (run / "backup").glob("*.npz"):
        npz.write_bytes(b"")
    resumed = _resume(run, config)
    assert resumed.returncode == 2
    assert resumed.stderr.strip() == (
        f"Error: {run / 'backup'}: no readable checkpoint "
        "(2 damaged); refusing to start over silently"
    )


def test_disk_full_during_a_save(tmp_path):
    config = _setup(tmp_path / "work", -1)
    run = tmp_path / "work" / "run"
    failed = _train(config, run, "enospc:epoch-000003.npz:1")
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"Error: cannot save the checkpoint of epoch 3 in {run}: No space left on device; the "
        f"previous checkpoint is intact (resume with: cbrun train --resume {run})"
    )
    assert sorted(p.name for p in (run / "backup").iterdir()) == [
        "epoch-000001.json",
        "epoch-000001.npz",
        "epoch-000002.json",
        "epoch-000002.npz",
    ]
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    resumed = _resume(run, config)
    assert resumed.returncode == 0, resumed.stderr


def test_resume_refuses_a_changed_config_but_takes_more_epochs(killed_in_epoch_4, tmp_path):
    config, run = _copy_of(killed_in_epoch_4, tmp_path)
    changed = run_cbrun(
        "train", config, "--resume", run, "--set", "fit.batch_size=64", cwd=config.parent
    )
    assert changed.returncode == 2
    assert "differs from the one" in changed.stderr and "fit.batch_size" in changed.stderr
    more = _resume(run, config, "--set", "fit.epochs=7")
    assert more.returncode == 0, more.stderr
    assert len(_history(run)) == 7
    again = _resume(run, config)
    assert again.returncode == 2 and "already finished (completed after 7 epochs)" in again.stderr
    assert "continue it with --set fit.epochs=N, N > 7" in again.stderr  # the way forward


def test_a_completed_run_continues_exactly_with_more_epochs(baseline, tmp_path):
    """4 epochs, completed; then --resume --set fit.epochs=6: the same as 6 at once."""
    config = _setup(tmp_path / "work", -1)
    run = tmp_path / "work" / "run"
    done = run_cbrun("train", config, "--run-dir", run, "--set", "fit.epochs=4", cwd=config.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    again = _resume(run, config, "--set", "fit.epochs=4")
    assert again.returncode == 2
    assert "to train on, continue it with --set fit.epochs=N, N > 4" in again.stderr
    resumed = _resume(run, config, "--set", "fit.epochs=6")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {run} at epoch 5/6" in resumed.stdout
    _assert_same_as(baseline, run)


def test_a_run_an_early_stopping_ended_is_not_continued(tiny_config, train, cli):
    config = tiny_config(
        "callbacks:\n"
        "  - {name: EarlyStopping, args: {monitor: loss, patience: 1, min_delta: 100}}\n"
    )
    result, run = train(config)
    assert json.loads((run / "summary.json").read_text())["status"] == "stopped_early"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*"))
    again = cli("train", "--resume", run, "--set", "fit.epochs=10")
    assert again.exit_code == 2
    (line,) = again.stderr.splitlines()
    assert "was stopped early by a callback after 2 epochs" in line
    assert "an uninterrupted run of any length stops there too" in line
    assert sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*")) == before
