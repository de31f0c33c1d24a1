"""`cbrun init`: a first config that validates and trains as written; the shipped
configs as package data; never an overwrite."""

from __future__ import annotations

import pytest

from cbrun import api
from cbrun.config.loading import load_config
from cbrun.config.starter import SCHEMA, example_names, write_starter
from cbrun.errors import UsageError


@pytest.mark.parametrize(
    "model,dataset", [("mlp", "mnist"), ("linear", "fashion_mnist"), ("cnn", "arrays")]
)
def test_every_kind_validates_as_written(model, dataset, tmp_path):
    written = write_starter(tmp_path / "first.yaml", model=model, dataset=dataset)
    assert tmp_path / SCHEMA in written
    text = (tmp_path / "first.yaml").read_text()
    assert text.startswith(f"# yaml-language-server: $schema={SCHEMA}\n")
    spec = load_config(tmp_path / "first.yaml") if dataset != "arrays" else None
    if spec is not None:
        assert spec.model.name == model and spec.data.dataset == dataset


def test_the_written_config_trains_one_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_starter(tmp_path / "x.yaml", dataset="arrays", callbacks=["EarlyStopping", "CSVLogger"])
    run = api.train(tmp_path / "x.yaml", ["fit.epochs=1", "fit.steps_per_epoch=1"], quiet=True)
    assert run.status == "completed" and (run.run_dir / "epochs.csv").is_file()


def test_it_never_overwrites_and_names_unknown_callbacks(tmp_path):
    write_starter(tmp_path / "x.yaml")
    with pytest.raises(UsageError, match="x.yaml exists: cbrun init never overwrites"):
        write_starter(tmp_path / "x.yaml")
    with pytest.raises(UsageError, match=r"EarlyStoping: no such callback \(did you mean"):
        write_starter(tmp_path / "y.yaml", callbacks=["EarlyStoping"])
    with pytest.raises(UsageError, match="LearningRateScheduler: needs schedule"):
        write_starter(tmp_path / "y.yaml", callbacks=["LearningRateScheduler"])
    assert not (tmp_path / "y.yaml").exists()


def test_the_shipped_configs_are_package_data(tmp_path, cli):
    assert {"early_stop", "sweep_mlp", "mnist_mlp"} <= set(example_names())
    result = cli("init", tmp_path / "e.yaml", "--example", "early_stop")
    assert result.exit_code == 0
    assert "EarlyStoppingAtMinLoss" in (tmp_path / "e.yaml").read_text()
    assert cli("validate", tmp_path / "e.yaml").exit_code == 0
    wrong = cli("init", tmp_path / "f.yaml", "--example", "nope")
    assert wrong.exit_code == 2 and "--example nope: one of " in wrong.stderr


def test_a_backbone_on_an_image_folder_is_transfer_learning_that_validates(tmp_path, cli):
    from PIL import Image

    from cbrun.config.loading import load_config

    path = tmp_path / "tl.yaml"
    result = cli("init", path, "--model", "MobileNetV3Small", "--dataset", "image_folder")
    assert result.exit_code == 0, result.output
    images = tmp_path / "tl_images"
    assert sorted(p.name for p in images.iterdir()) == ["0", "1", "2"]
    with Image.open(images / "2" / "000.png") as image:
        assert (image.size, image.mode) == ((32, 32), "RGB")
    spec = load_config(path)
    assert (spec.model.name, spec.model.freeze, spec.data.dataset) == (
        "MobileNetV3Small",
        True,
        "image_folder",
    )
    assert [c.name for c in spec.callbacks] == ["UnfreezeBackbone"]


def test_a_backbone_needs_an_image_folder_and_a_known_name(tmp_path, cli):
    result = cli("init", tmp_path / "a.yaml", "--model", "ResNet50")
    assert result.exit_code == 2
    assert "--model ResNet50 needs images of at least 32x32: give --dataset image_folder" in (
        result.stderr
    )
    result = cli("init", tmp_path / "b.yaml", "--model", "ResNet5O", "--dataset", "image_folder")
    assert result.exit_code == 2 and "(did you mean 'ResNet50'?)" in result.stderr
    assert not any(tmp_path.iterdir())
