"""Every path a run writes is probed before the data is read (cbrun/run/outputs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbrun.config.loading import load_config
from cbrun.errors import UsageError
from cbrun.run.outputs import probe_outputs


@pytest.fixture
def spec(tiny_config):
    return load_config(tiny_config())


def test_each_written_path_is_named_by_what_set_it(spec, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    cases = {
        "--runs-dir": dict(runs_dir=blocker / "runs"),
        "--run-dir": dict(run_dir=blocker / "run"),
        "--resume": dict(resume=blocker / "run"),
    }
    for option, given in cases.items():
        with pytest.raises(UsageError, match=f"^{option}: cannot write"):
            probe_outputs(spec, **given)
    spec.output.runs_dir = str(blocker / "runs")
    with pytest.raises(UsageError, match="^output.runs_dir: cannot write"):
        probe_outputs(spec)


def test_the_image_cache_and_a_local_mlflow_store_are_probed(spec, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    images = spec.data.model_copy(
        update={"dataset": "image_folder", "cache": str(blocker / "cache")}
    )
    with pytest.raises(UsageError, match="^data.cache: cannot write"):
        probe_outputs(spec.model_copy(update={"data": images}), runs_dir=tmp_path)
    from cbrun.config.spec import MlflowSpec

    for uri in (
        f"sqlite:///{blocker / 'm.db'}",
        f"file://{blocker / 'mlruns'}",
        str(blocker / "x"),
    ):
        tracked = spec.model_copy(deep=True)
        tracked.tracking.mlflow = MlflowSpec(uri=uri)
        with pytest.raises(UsageError, match="^tracking.mlflow.uri: cannot write"):
            probe_outputs(tracked, runs_dir=tmp_path)
    tracked.tracking.mlflow = MlflowSpec(uri="http://127.0.0.1:5000")  # a server: not a path
    probe_outputs(tracked, runs_dir=tmp_path)
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["blocker", "config.yaml"]


def test_an_absolute_callback_path_is_probed_and_a_relative_one_lies_in_the_run(spec, tmp_path):
    from cbrun.config.spec import CallbackSpec

    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    spec.callbacks = [
        CallbackSpec(name="CSVLogger", args={"filename": "epochs.csv"}),
        CallbackSpec(name="ModelCheckpoint", args={"filepath": str(blocker / "best.keras")}),
    ]
    with pytest.raises(UsageError) as caught:
        probe_outputs(spec, runs_dir=tmp_path)
    assert str(caught.value) == (
        f"callbacks[1].args.filepath: cannot write {blocker / 'best.keras'}: {blocker} is a "
        "file, not a folder"
    )
    spec.callbacks = [CallbackSpec(name="TensorBoard", args={"log_dir": "/sys/cbrun-logs"})]
    with pytest.raises(UsageError, match=r"^callbacks\[0\].args.log_dir: cannot write /sys/"):
        probe_outputs(spec, runs_dir=tmp_path)


def _closed_port() -> tuple[str, int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "127.0.0.1", probe.getsockname()[1]


def test_imagenet_weights_not_cached_and_unreachable_are_one_line(tmp_path, monkeypatch, cli):
    from cbrun.catalog import backbones

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(backbones, "WEIGHTS_HOST", _closed_port())  # no network: a closed port
    images = tmp_path / "images"
    for label in ("a", "b"):
        (images / label).mkdir(parents=True)
        (images / label / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data: {{dataset: image_folder, path: {images}, image_size: [32, 32]}}\n"
        "model: {name: MobileNetV3Small, weights: imagenet}\n"
        "compile: {loss: sparse_categorical_crossentropy}\nfit: {epochs: 1}\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    file = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
    models = tmp_path / "keras" / "models"
    assert result.stderr == (
        f"Error: model.weights: imagenet: {file} is not in {models} and 127.0.0.1 cannot be "
        f"reached: download it (Keras's keras-applications files on 127.0.0.1) and put it at "
        f"{models / file}\n"
    )
    assert not (tmp_path / "runs").exists()
    models.mkdir(parents=True)
    (models / file).write_bytes(b"cached")  # in Keras's cache: no network needed, no line
    from cbrun.config.loading import load_config
    from cbrun.run.outputs import probe_imagenet

    probe_imagenet(load_config(config))
