"""`model.init_from: RUN_DIR`: a new run starts from another run's weights (fine-tuning),
checked before TensorFlow: the folder, its model.keras, the model and the data's shape."""

from __future__ import annotations

import numpy as np
import pytest

import cbrun
from cbrun.config.loading import load_config
from cbrun.errors import ConfigError

BASE = """
name: base
seed: 1
data: {dataset: mnist, source: bundled, limit: {train: 256, test: 64}}
model: {name: mlp, args: {units: [16]}}
compile:
  optimizer: {name: sgd, args: {learning_rate: LR}}
  loss: sparse_categorical_crossentropy
fit: {batch_size: 32, epochs: 2, steps_per_epoch: 3}
evaluate: {batch_size: 64, steps: 1}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("init")
    config = folder / "base.yaml"
    config.write_text(BASE.replace("LR", "0.1"))
    return cbrun.train(config, runs_dir=folder / "runs", quiet=True).run_dir


def test_a_run_starts_from_another_runs_weights(trained, tmp_path):
    config = tmp_path / "tune.yaml"
    # A learning rate too small to move anything: the weights stay the source's.
    config.write_text(BASE.replace("LR", "1.0e-12") + "  \n")
    text = config.read_text().replace(
        "model: {name: mlp, args: {units: [16]}}",
        f"model: {{name: mlp, args: {{units: [16]}}, init_from: {trained}}}",
    )
    config.write_text(text)
    tuned = cbrun.train(config, runs_dir=tmp_path / "runs", quiet=True)
    source, result = cbrun.Run(trained).load_model(), tuned.load_model()
    for theirs, mine in zip(source.get_weights(), result.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-9)
    assert f"init_from: {trained}" in (tuned.run_dir / "config.yaml").read_text()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("{name: mlp, args: {units: [32]}, init_from: RUN}", "its weights would not fit"),
        ("{name: cnn, init_from: RUN}", "trained model mlp {'units': [16]}"),
        ("{name: mlp, args: {units: [16]}, init_from: NOWHERE}", "not a finished run folder"),
    ],
)
def test_an_init_from_that_cannot_fit_is_a_config_line(model, message, trained, tmp_path):
    config = tmp_path / "tune.yaml"
    model = model.replace("RUN", str(trained)).replace("NOWHERE", str(tmp_path / "none"))
    config.write_text(
        BASE.replace("LR", "0.1").replace(
            "model: {name: mlp, args: {units: [16]}}", f"model: {model}"
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    (line,) = str(caught.value).splitlines()
    assert ":5:" in line and "model.init_from: " in line and message in line
