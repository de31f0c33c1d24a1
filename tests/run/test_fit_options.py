"""`fit.class_weight` and `compile.dtype_policy`: checked before TensorFlow, applied by
Keras, recorded in summary.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cbrun import api
from cbrun.config.loading import load_config
from cbrun.data.feeding import class_weights
from cbrun.errors import ConfigError

BASE = """\
name: opts
seed: 5
data: {dataset: mnist, source: bundled, limit: {train: 320, test: 128}}
model: {name: mlp, args: {units: [8]}}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}
fit: {batch_size: 32, epochs: 1, steps_per_epoch: 4}
evaluate: {batch_size: 64, steps: 1}
"""


def test_balanced_and_given_weights_cover_every_class():
    labels = np.array([0, 0, 0, 1])
    assert class_weights("balanced", labels, 3) == {0: 4 / 9, 1: 4 / 3, 2: 1.0}
    assert class_weights({1: 3.0}, labels, 3) == {0: 1.0, 1: 3.0, 2: 1.0}
    assert class_weights(None, labels, 3) is None
    assert class_weights("balanced", labels, None) is None  # a regression has no classes


@pytest.mark.parametrize(
    "override,message",
    [
        ("fit.class_weight={12: 1.0}", "class 12 is not a class: the labels are 0-9"),
        ("fit.class_weight={1: -2}", "class 1: a weight is a number > 0 and < 1e6; got -2"),
        ("fit.class_weight={a: 2}", "class ids are whole numbers >= 0; got 'a': give balanced"),
        ("fit.class_weight=even", "give balanced, or class ids to weights, e.g. {0: 1.0, 7: 3."),
        ("compile.dtype_policy=float64", "dtype_policy: must be one of float32, mixed_bfloat16"),
    ],
    ids=["a class beyond the labels", "negative", "a name as a class", "a word", "a policy"],
)
def test_bad_options_are_one_line(override, message, write_config, cli):
    result = cli("validate", write_config(BASE), "--set", override)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: --set {override}: ") and message in line


def test_class_weight_on_a_regression_is_refused(tmp_path, write_config):
    data = tmp_path / "reg.npz"
    x = np.zeros((8, 3), np.float32)
    np.savez(data, x_train=x, y_train=np.zeros(8), x_test=x, y_test=np.zeros(8))
    text = f"data: {{dataset: arrays, path: {data}}}\nmodel: {{name: linear}}\n"
    text += "compile: {loss: mse}\nfit: {class_weight: balanced}\n"
    with pytest.raises(ConfigError, match="class_weight: needs class labels; the targets"):
        load_config(write_config(text))


def test_class_ids_round_trip_through_validate(write_config, cli):
    printed = cli("validate", write_config(BASE), "--set", "fit.class_weight={3: 2.5}")
    assert printed.exit_code == 0 and "    3: 2.5\n" in printed.stdout
    assert load_config(write_config(printed.stdout, "again.yaml")).fit.class_weight == {3: 2.5}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit-options")
    config = folder / "opts.yaml"
    config.write_text(BASE)
    plain = api.train(config, run_dir=folder / "plain", quiet=True)
    weighted = api.train(config, ["fit.class_weight={0: 20.0}"], run_dir=folder / "w", quiet=True)
    mixed = api.train(
        config, ["compile.dtype_policy=mixed_bfloat16", "fit.class_weight=balanced"],
        run_dir=folder / "mixed", quiet=True,
    )  # fmt: skip
    return plain, weighted, mixed


def test_class_weights_reach_keras_and_the_summary(runs):
    plain, weighted, _ = runs
    assert weighted.history[0]["loss"] != pytest.approx(plain.history[0]["loss"], rel=1e-3)
    fit = json.loads((weighted.run_dir / "summary.json").read_text())["fit"]
    assert fit["class_weight"] == {str(c): (20.0 if c == 0 else 1.0) for c in range(10)}
    assert fit["dtype_policy"] == "float32"
    assert json.loads((plain.run_dir / "summary.json").read_text())["fit"]["class_weight"] is None


def test_a_mixed_policy_trains_keeps_the_output_float32_and_does_not_leak(runs):
    from cbrun.backend import load_keras

    _, _, mixed = runs
    assert mixed.status == "completed"
    summary = json.loads((mixed.run_dir / "summary.json").read_text())["fit"]
    assert summary["dtype_policy"] == "mixed_bfloat16"
    weights = summary["class_weight"]
    assert len(weights) == 10 and min(weights.values()) > 0
    model = mixed.load_model()
    hidden, output = model.layers[-2], model.layers[-1]
    assert hidden.dtype_policy.name == "mixed_bfloat16" and hidden.compute_dtype == "bfloat16"
    assert output.dtype_policy.name == "float32"
    assert load_keras().mixed_precision.global_policy().name == "float32"
