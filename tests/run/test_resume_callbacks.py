"""Resume keeps every callback's judgement: one case per stateful callback in the catalog.

Each case trains a run three ways: uninterrupted; SIGKILLed in epoch K+1 (after
the checkpoint of epoch K, with non-default min_delta, patience, cooldown and
mode where the callback has them); and resumed from that. The resumed run's
history.csv (every column, the learning rate included), the epoch it stopped at,
its final weights and the files the callback wrote must equal the
uninterrupted run's. Before cbrun 0.2, restoring attributes by reflection
negated Keras's `min_delta` a second time on resume (keras#21275), so
ReduceLROnPlateau and EarlyStopping decided differently after a resume.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import ROOT, run_cbrun

KILL_AFTER_EPOCH = 2  # the kill comes in the 3rd epoch; the resume starts from epoch 2's checkpoint

CONFIG = """\
name: stateful
seed: 5
deterministic: true
plugins: [kill_switch, epoch_counter]
data: {{dataset: mnist, source: bundled, limit: {{train: 512, test: 128}}, validation_split: 0.25}}
model: {{name: mlp, args: {{units: [16]}}}}
compile:
  optimizer: {{name: {optimizer}, args: {optimizer_args}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 32, epochs: 7, steps_per_epoch: 4}}
evaluate: {{batch_size: 64, steps: 1}}
callbacks:
  - {callback}
  - name: kill_switch:KillSwitch
    args: {{epoch: {kill}, batch: 1, marker: {marker}}}
"""

CASES = {
    "EarlyStopping": (
        "{name: EarlyStopping, args: {monitor: val_loss, patience: 1, min_delta: 0.1, "
        "mode: min, restore_best_weights: true}}",
        "adam",
        "{learning_rate: 0.01}",
        (),
    ),
    "ReduceLROnPlateau": (
        "{name: ReduceLROnPlateau, args: {monitor: loss, factor: 0.5, patience: 0, "
        "min_delta: 0.3, cooldown: 2, mode: min, min_lr: 0.0001}}",
        "rmsprop",
        "{learning_rate: 0.01}",
        (),
    ),
    "ModelCheckpoint": (
        "{name: ModelCheckpoint, args: {filepath: 'best-{epoch:02d}.keras', "
        "monitor: val_accuracy, mode: max, save_best_only: true}}",
        "sgd",
        "{learning_rate: 0.5}",
        ("best-*.keras",),
    ),
    "LearningRateScheduler": (
        "{name: LearningRateScheduler, args: {schedule: {type: step, every: 2, factor: 0.5}}}",
        "adam",
        "{learning_rate: 0.01}",
        (),
    ),
    "CSVLogger": (
        "{name: CSVLogger, args: {filename: epochs.csv, separator: ';'}}",
        "adam",
        "{learning_rate: 0.01}",
        ("epochs.csv",),
    ),
    "TerminateOnNaN": ("TerminateOnNaN", "adam", "{learning_rate: 0.01}", ()),
    "SwapEMAWeights": (
        "{name: SwapEMAWeights, args: {swap_on_epoch: true}}",
        "adam",
        "{learning_rate: 0.01, use_ema: true, ema_momentum: 0.9}",
        (),
    ),
    "EarlyStoppingAtMinLoss": (
        "{name: EarlyStoppingAtMinLoss, args: {patience: 1, monitor: val_loss}}",
        "sgd",
        "{learning_rate: 0.5}",
        (),
    ),
    "ScheduledLearningRate": (
        "{name: ScheduledLearningRate, args: {table: [[2, 0.005], [4, 0.001]]}}",
        "adam",
        "{learning_rate: 0.01}",
        (),
    ),
    "a plugin's get_state/set_state": (
        "{name: 'epoch_counter:EpochCounter', args: {out: OUT/count.txt}}",
        "adam",
        "{learning_rate: 0.01}",
        ("count.txt",),
    ),
}


def _work(folder: Path, case: str) -> Path:
    """A folder with the case's config and the test plugins; returns the config."""
    callback, optimizer, args, _ = CASES[case]
    folder.mkdir(parents=True)
    for plugin in ("kill_switch.py", "epoch_counter.py"):
        shutil.copy(ROOT / "tests" / "plugins" / plugin, folder)
    config = folder / "config.yaml"
    config.write_text(
        CONFIG.format(
            callback=callback.replace("OUT", str(folder / "run")),
            optimizer=optimizer,
            optimizer_args=args,
            kill=KILL_AFTER_EPOCH,
            marker=folder / "killed",
        )
    )
    return config


def _weights(path: Path) -> list:
    return keras.models.load_model(path, safe_mode=True).get_weights()


def _same_weights(a: Path, b: Path) -> None:
    for got, want in zip(_weights(a), _weights(b), strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("case", CASES)
def test_resume_equals_the_uninterrupted_run(case, tmp_path, cli, monkeypatch):
    # The uninterrupted run and the resume run in this process (op determinism makes
    # them bit-exact with a fresh one); only the run that is SIGKILLed needs its own.
    written = CASES[case][3]
    straight = _work(tmp_path / "straight", case)
    (straight.parent / "killed").write_text("never fires")
    done = cli("train", straight, "--run-dir", straight.parent / "run")
    assert done.exit_code == 0, done.output

    config = _work(tmp_path / "resumed", case)
    run = config.parent / "run"
    killed = run_cbrun("train", config, "--run-dir", run)
    assert killed.returncode == -9, killed.stderr
    # From another folder: the run's config.yaml records where its plugins are.
    monkeypatch.chdir(tmp_path)
    resumed = cli("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming {run} at epoch {KILL_AFTER_EPOCH + 1}/7" in resumed.stdout

    base = straight.parent / "run"
    shows = BASELINE_SHOWS.get(case)
    baseline = json.loads((base / "summary.json").read_text())
    assert shows is None or shows(baseline, _learning_rates(base)), (
        baseline,
        _learning_rates(base),
    )
    assert (run / "history.csv").read_text() == (base / "history.csv").read_text()
    summary = json.loads((run / "summary.json").read_text())
    expected = json.loads((base / "summary.json").read_text())
    assert (summary["status"], summary["epochs_run"]) == (
        expected["status"],
        expected["epochs_run"],
    )
    _same_weights(run / "model.keras", base / "model.keras")
    for pattern in written:
        names = sorted(p.name for p in base.glob(pattern))
        assert names and sorted(p.name for p in run.glob(pattern)) == names
        for name in names:
            if name.endswith(".keras"):
                _same_weights(run / name, base / name)
            else:
                assert (run / name).read_text() == (base / name).read_text()


def _learning_rates(run: Path) -> list[float]:
    rows = (run / "history.csv").read_text().splitlines()[1:]
    return [float(row.split(",")[1]) for row in rows]


# What the uninterrupted run of a case must show, so that the equality proves something:
# a decision taken after the kill that depends on the state from before it.
BASELINE_SHOWS = {
    "EarlyStopping": lambda s, lr: s["status"] == "stopped_early",
    "EarlyStoppingAtMinLoss": lambda s, lr: s["status"] == "stopped_early",
    "ReduceLROnPlateau": lambda s, lr: len(set(lr[KILL_AFTER_EPOCH:])) > 1,
    "LearningRateScheduler": lambda s, lr: len(set(lr[KILL_AFTER_EPOCH:])) > 1,
    "ScheduledLearningRate": lambda s, lr: len(set(lr[KILL_AFTER_EPOCH:])) > 1,
}


def test_a_plugin_without_state_is_resumed_fresh_and_said_so_once(tmp_path, cli, monkeypatch):
    config = _work(tmp_path / "work", "a plugin's get_state/set_state")
    config.write_text(config.read_text().replace("EpochCounter", "ForgetfulCounter"))
    run = config.parent / "run"
    assert run_cbrun("train", config, "--run-dir", run).returncode == -9
    monkeypatch.chdir(tmp_path)
    resumed = cli("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    said = [line for line in resumed.stdout.splitlines() if "declare no state" in line]
    assert said == [
        "resume: ForgetfulCounter, KillSwitch declare no state (get_state/set_state) and start "
        "fresh; their decisions may differ from an uninterrupted run's"
    ]
    # Epochs 3 to 7 only: the two before the kill were forgotten.
    assert (run / "count.txt").read_text() == "5"
    summary = json.loads((run / "summary.json").read_text())
    assert [s["from_epoch"] for s in summary["segments"]] == [0, KILL_AFTER_EPOCH]
    assert all(s["versions"]["keras"] == keras.__version__ for s in summary["segments"])
    # evaluate and predict find the run's plugins from here too.
    assert cli("evaluate", run, "--json").exit_code == 0
    assert cli("predict", run, "--count", 2, "--json").exit_code == 0


def test_environment_that_would_cut_the_run_short_is_refused(tiny_config, cli, monkeypatch):
    monkeypatch.setenv("KERAS_MAX_EPOCHS", "1")
    result = cli("train", tiny_config(), "--runs-dir", tiny_config().parent / "runs")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: KERAS_MAX_EPOCHS=1 is set: Keras would silently cut every epoch or the run "
        "short; unset it and use --set fit.epochs=N or --set fit.steps_per_epoch=N\n"
    )
    assert not (tiny_config().parent / "runs").exists()
