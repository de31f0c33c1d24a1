"""Your own model builder and your own arrays, under the same rules as everything else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import ROOT, installed_package, run_cbrun

BUILDER = """
import keras

def build_net(input_shape, num_classes, width: int = 16):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(width, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))

def not_a_model(input_shape, num_classes):
    return "a string"

def compiled(input_shape, num_classes):
    model = build_net(input_shape, num_classes)
    model.compile(optimizer="sgd", loss="mse")
    return model
"""

CONFIG = """\
name: own
seed: 4
deterministic: true
plugins: [my_models, kill_switch]
data: {{dataset: arrays, source: path, path: {data}, flatten: false}}
model: {{name: 'my_models:build_net', args: {{width: 12}}}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.01}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 32, epochs: 5, steps_per_epoch: 4}}
evaluate: {{batch_size: 64}}
callbacks:
  - {{name: EarlyStopping, args: {{monitor: val_loss, patience: 3, min_delta: 0.01, mode: min}}}}
  - {{name: 'kill_switch:KillSwitch', args: {{epoch: 2, batch: 1, marker: {marker}}}}}
"""


def _arrays(path: Path, **changes) -> Path:
    """Three classes of 6x5x2 features, with a validation split of their own."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 240), ("val", 60), ("test", 90)):
        y = rng.integers(0, 3, count)
        x = rng.normal(size=(count, 6, 5, 2)).astype(np.float32) + y[:, None, None, None]
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _work(folder: Path, marker_exists: bool, builder: str = BUILDER) -> Path:
    folder.mkdir(parents=True)
    (folder / "my_models.py").write_text(builder)
    shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", folder)
    if marker_exists:
        (folder / "killed").write_text("never fires")
    config = folder / "own.yaml"
    config.write_text(CONFIG.format(data=_arrays(folder / "data.npz"), marker=folder / "killed"))
    return config


def test_own_model_on_own_arrays_trains_evaluates_predicts_and_resumes_exactly(tmp_path, cli):
    straight = _work(tmp_path / "straight", marker_exists=True)
    done = cli("train", straight, "--run-dir", straight.parent / "run")
    assert done.exit_code == 0, done.output
    config = _work(tmp_path / "killed", marker_exists=False)
    run = config.parent / "run"
    assert run_cbrun("train", config, "--run-dir", run).returncode == -9
    resumed = cli("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    base = straight.parent / "run"
    assert (run / "history.csv").read_text() == (base / "history.csv").read_text()
    got = keras.models.load_model(run / "model.keras").get_weights()
    for a, b in zip(got, keras.models.load_model(base / "model.keras").get_weights(), strict=True):
        assert np.array_equal(a, b)
    model = keras.models.load_model(run / "model.keras")
    assert model.input_shape == (None, 6, 5, 2) and model.output_shape == (None, 3)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["data"]["dataset"] == "arrays" and summary["data"]["train_samples"] == 240
    assert "val_loss" in (run / "history.csv").read_text().splitlines()[0]  # x_val, y_val used
    evaluation = json.loads(cli("evaluate", run, "--json").stdout)
    assert set(evaluation) == {"loss", "accuracy"}
    items = json.loads(cli("predict", run, "--count", 4, "--json").stdout)
    assert len(items) == 4 and all(
        0 <= i["prediction"] <= 2 and 0 <= i["label"] <= 2 for i in items
    )


def test_a_model_plugin_outside_the_allow_list_is_never_imported(tmp_path, cli):
    marker = tmp_path / "IMPORTED"
    config = _work(tmp_path / "w", marker_exists=True)
    (config.parent / "my_models.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\n" + BUILDER
    )
    config.write_text(
        config.read_text().replace("plugins: [my_models, kill_switch]", "plugins: [kill_switch]")
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    # A config problem now, at its file:line (issue 22), still before anything is imported.
    assert result.stderr == (
        f"Error: {config}:6:15: model.name: plugin 'my_models:build_net' is not allowed: list "
        "my_models under plugins: in the config, or pass --allow-plugin my_models\n"
    )
    assert not marker.exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "model,message",
    [
        (
            "{name: 'my_models:build_net', args: {widht: 3}}",
            "Error: model.args.widht: unknown argument of build_net (did you mean 'width'?)",
        ),
        (
            "{name: 'my_models:not_a_model'}",
            "Error: model: my_models:not_a_model returned str, not a keras.Model",
        ),
        (
            "{name: 'my_models:compiled'}",
            "Error: model: my_models:compiled returned a compiled model; cbrun compiles it from "
            "compile:",
        ),
        (
            "{name: 'my_models:nothing'}",
            "Error: plugin 'my_models:nothing': my_models has no nothing",
        ),
    ],
)
def test_a_model_plugin_that_does_not_fit_is_one_line(model, message, tmp_path, cli):
    config = _work(tmp_path / "w", marker_exists=True)
    text = config.read_text().replace("{name: 'my_models:build_net', args: {width: 12}}", model)
    config.write_text(text)
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert result.stderr == message + "\n"
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _never_tensorflow(monkeypatch):
    """Fail the test if anything asks for TensorFlow (it is loaded in this process)."""
    import cbrun.backend
    import cbrun.run.runner

    def refuse(*args, **kwargs):
        raise AssertionError("TensorFlow was asked for before the data was checked")

    monkeypatch.setattr(cbrun.backend, "import_keras", refuse)
    monkeypatch.setattr(cbrun.run.runner, "import_keras", refuse)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"y_train": np.full(240, 7)}, "y_train: labels run from 7 to 7; num_classes 3 need 0-2"),
        (
            {"y_train": np.full(240, -1)},
            "y_train: labels run from -1 to -1; num_classes 3 need 0-2",
        ),
        (
            {"x_val": np.full((60, 6, 5, 2), np.nan, np.float32)},
            "x_val holds NaN or infinite values",
        ),
        (
            {"x_test": np.full((90, 6, 5, 2), -np.inf, np.float32)},
            "x_test holds NaN or infinite values",
        ),
    ],
    ids=["labels above the classes", "negative labels", "NaN", "infinite"],
)
def test_bad_values_are_one_line_before_tensorflow(changes, message, tmp_path, cli, monkeypatch):
    config = _work(tmp_path / "w", marker_exists=True)
    data = _arrays(config.parent / "data.npz", **changes)
    text = config.read_text()  # the labels' range is checked against the classes given
    config.write_text(text.replace("flatten: false}", "flatten: false, num_classes: 3}"))
    _never_tensorflow(monkeypatch)
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {data}: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def _write_raw(path: Path, kind: str) -> None:
    """Files that are not an .npz of numbers, each its own way."""
    if kind == "a .npy":
        np.save(path.with_suffix(".npy"), np.zeros((4, 2)))
        path.with_suffix(".npy").rename(path)
    elif kind == "text":
        path.write_text("x_train,y_train\n1,2\n")
    elif kind == "truncated":
        _arrays(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "empty file":
        path.write_bytes(b"")


ARRAY_LAYOUTS = [
    ({"y_test": np.zeros(5, int)}, "y_test has shape (5,); expected (90,), one per x_test row"),
    ({"x_test": np.zeros((90, 4), np.float32)}, "x_test has rows of shape (4,), x_train (6, 5, 2)"),
    ({"y_val": None}, "x_val and y_val go together; the file has only one of them"),
    ({"x_train": None}, "missing arrays x_train (it has x_test, x_val, y_test, y_train, y_val)"),
    (
        {"x_train": np.array([{"a": 1}] * 240, dtype=object)},
        "x_train holds Python objects (pickled, or rows of different lengths)",
    ),
    (
        {"x_test": np.array([np.zeros(3), np.zeros(4)] + [np.zeros(2)] * 88, dtype=object)},
        "x_test holds Python objects (pickled, or rows of different lengths)",
    ),
    ({"y_train": np.array(["cat"] * 240)}, "y_train has dtype <U3; it must hold real numbers"),
    ({"x_val": np.zeros((60, 6, 5, 2), complex)}, "x_val has dtype complex128; it must hold"),
    ({"x_train": np.zeros((0, 6, 5, 2))}, "x_train has shape (0, 6, 5, 2); expected (samples,"),
    ({"x_test": np.zeros(90)}, "x_test has shape (90,); expected (samples, features...)"),
    ("a .npy", "a single .npy array; cbrun reads an .npz of named arrays: np.savez(path, x_train"),
    ("text", "not an .npz (the zip that np.savez writes), or a truncated one"),
    ("truncated", "not an .npz (the zip that np.savez writes), or a truncated one"),
    ("empty file", "not an .npz (the zip that np.savez writes), or a truncated one"),
]


@pytest.mark.parametrize(
    "changes,message",
    ARRAY_LAYOUTS,
    ids=[
        "lengths",
        "shapes",
        "half a validation pair",
        "missing",
        "pickled",
        "ragged",
        "string labels",
        "complex",
        "no rows",
        "one dimension",
        "a .npy",
        "text",
        "truncated",
        "empty file",
    ],  # fmt: skip
)
def test_arrays_that_cannot_train_are_a_config_line_from_their_headers(
    changes, message, tmp_path, cli
):
    config = _work(tmp_path / "w", marker_exists=True)
    data = config.parent / "data.npz"
    if isinstance(changes, str):
        _write_raw(data, changes)
    else:
        _arrays(data, **changes)
    result = cli("validate", config)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    column = CONFIG.splitlines()[4].index("{data}")  # 1-based, less the template's one {
    assert line.startswith(f"Error: {config}:5:{column}: data.path: {data}: {message}")


def test_train_refuses_bad_headers_before_tensorflow_and_writes_nothing(tmp_path, cli, monkeypatch):
    config = _work(tmp_path / "w", marker_exists=True)
    _arrays(config.parent / "data.npz", x_train=np.array([[1, 2]], dtype=object))
    _never_tensorflow(monkeypatch)
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "data.path:" in result.stderr and "x_train holds Python objects" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_arrays_need_a_path(write_config, cli):
    config = write_config(
        "data: {dataset: arrays}\nmodel: {name: linear}\ncompile: {loss: mse}\nfit: {epochs: 1}\n"
    )
    result = cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}:1:17: data.dataset: dataset: arrays reads your own .npz: "
        "set data.path to it\n"
    )


def test_a_path_alone_means_source_path(tmp_path, write_config, cli):
    from cbrun.config.loading import load_config

    data = _arrays(tmp_path / "data.npz")
    config = write_config(
        f"data: {{dataset: arrays, path: {data}}}\nmodel: {{name: mlp}}\n"
        "compile: {loss: sparse_categorical_crossentropy}\nfit: {epochs: 1}\n"
    )
    assert load_config(config).data.source == "path"
    assert cli("validate", config).exit_code == 0


def test_an_installed_model_builder_needs_no_allow_list(tmp_path, monkeypatch, cli):
    site = tmp_path / "site"
    installed_package(
        site,
        "installed_models",
        "cbrun.models",
        {"tiny_net": "installed_models:build_net"},
        BUILDER,
    )
    monkeypatch.syspath_prepend(str(site))
    config = _work(tmp_path / "w", marker_exists=True)
    text = config.read_text().replace("'my_models:build_net'", "tiny_net")
    config.write_text(text.replace("[my_models, kill_switch]", "[kill_switch]"))
    result = cli("train", config, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model.keras").is_file()
