"""UnfreezeBackbone: the top layers unfrozen at an epoch (BatchNormalization kept frozen),
recompiled with the new learning rate, and a run killed before or after the unfreeze
resumes to the uninterrupted run's history and weights, epoch for epoch."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from cbrun.build.callbacks.unfreeze_backbone import UnfreezeBackbone
from tests.conftest import ROOT, run_cbrun

CONFIG = """\
name: finetune
seed: 7
deterministic: true
plugins: [kill_switch, nested_backbone]
data: {{dataset: mnist, source: bundled, flatten: false, limit: {{train: 256, test: 64}}}}
model: {{name: 'nested_backbone:build'}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.01}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 32, epochs: 4, steps_per_epoch: 3}}
evaluate: {{batch_size: 64, steps: 1}}
callbacks:
  - {{name: UnfreezeBackbone, args: {{at_epoch: 3, layers: all, learning_rate: 0.001}}}}
  - {{name: 'kill_switch:KillSwitch', args: {{epoch: {kill}, batch: 1, marker: {marker}}}}}
"""


def _work(folder: Path, kill: int) -> Path:
    folder.mkdir(parents=True)
    for plugin in ("kill_switch.py", "nested_backbone.py"):
        shutil.copy(ROOT / "tests" / "plugins" / plugin, folder)
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(kill=kill, marker=folder / "killed"))
    return config


def test_arguments_are_checked_at_once():
    for bad in ({"at_epoch": 0}, {"at_epoch": 2, "layers": 0}, {"at_epoch": 2, "layers": "top"},
                {"at_epoch": 2, "learning_rate": -1.0}):  # fmt: skip
        with pytest.raises(ValueError, match="Received: "):
            UnfreezeBackbone(**bad)


def test_the_top_layers_are_unfrozen_and_batch_normalization_stays_frozen():
    from tests.plugins.nested_backbone import build

    model = build((12, 12, 1), 3)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    callback = UnfreezeBackbone(at_epoch=1, layers=2, learning_rate=0.001)
    callback.set_model(model)
    said = []
    callback.say = said.append
    callback.on_epoch_begin(0)
    backbone = model.get_layer("backbone")
    trainable = {layer.name for layer in backbone.layers if layer.trainable}
    assert trainable == {backbone.layers[-1].name}  # the top two: a BatchNormalization and a conv
    assert isinstance(backbone.layers[-2], keras.layers.BatchNormalization)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.001)
    assert said == [
        "epoch 1: UnfreezeBackbone made 1 backbone layers trainable and recompiled "
        "(learning rate 0.001)"
    ]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The run both killed runs are compared with (trained once, in this process)."""
    from click.testing import CliRunner

    from cbrun.cli.main import cli

    straight = _work(tmp_path_factory.mktemp("unfreeze") / "straight", kill=-1)
    run = straight.parent / "run"
    done = CliRunner().invoke(cli, ["train", str(straight), "--run-dir", str(run)])
    assert done.exit_code == 0, done.output
    assert "epoch 3: UnfreezeBackbone made 2 backbone layers trainable" in done.stdout
    return run


@pytest.mark.parametrize("kill", [1, 3], ids=["killed before the unfreeze", "killed after it"])
def test_a_killed_run_resumes_to_the_uninterrupted_run(
    kill, uninterrupted, tmp_path, cli, monkeypatch
):
    config = _work(tmp_path / "killed", kill=kill)
    run = config.parent / "run"
    killed = run_cbrun("train", config, "--run-dir", run)
    assert killed.returncode == -9, killed.stderr
    monkeypatch.chdir(tmp_path)
    resumed = cli("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming {run} at epoch {kill + 1}/4" in resumed.stdout
    base = uninterrupted
    assert (run / "history.csv").read_text() == (base / "history.csv").read_text()
    ours = keras.models.load_model(run / "model.keras", safe_mode=True)
    theirs = keras.models.load_model(base / "model.keras", safe_mode=True)
    for got, want in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert np.array_equal(got, want)
