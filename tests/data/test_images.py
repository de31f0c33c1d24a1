"""`dataset: image_folder` on real PNG and JPEG files made here: checked before TensorFlow,
decoded once into a uint8 cache, class names in the run, exact resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

import cbrun
from cbrun.catalog.images import scan
from cbrun.config.loading import load_config
from cbrun.data import images as image_data
from cbrun.data.datasets import load_configured
from cbrun.errors import ConfigError


def _folder(root, layout="split", per_class=12, classes=("cat", "dog", "owl")):
    """Images by class: each class a different brightness, so a model can learn them;
    PNG for some, JPEG for others, of differing sizes (resized on decode)."""
    rng = np.random.default_rng(0)
    splits = {"train": per_class, "test": 4} if layout == "split" else {"": per_class}
    for split, count in splits.items():
        for label, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for n in range(count):
                size = (20 + n % 3 * 6, 24)
                base = 40 + 80 * label
                pixels = np.clip(rng.normal(base, 20, size), 0, 255).astype(np.uint8)
                suffix = "png" if n % 2 else "jpg"
                Image.fromarray(pixels).convert("RGB").save(folder / f"{n:02d}.{suffix}")
    return root


def _config(write_config, root, tmp_path, extra=""):
    return write_config(
        f"""
        name: pets
        seed: 3
        data:
          dataset: image_folder
          path: {root}
          image_size: [16, 16]
          color_mode: grayscale
          cache: {tmp_path / "cache"}
        {extra}
        model: {{name: cnn, args: {{filters: [8], dense: 16}}}}
        compile: {{loss: sparse_categorical_crossentropy, metrics: [accuracy]}}
        fit: {{batch_size: 8, epochs: 2}}
        evaluate: {{batch_size: 8}}
        """
    )


def test_a_split_folder_is_decoded_once_into_a_cache_and_then_read_from_it(
    tmp_path, write_config, monkeypatch
):
    root = _folder(tmp_path / "pets")
    spec = load_config(_config(write_config, root, tmp_path))
    said = []
    data = load_configured(spec.data, said.append, seed=3)
    assert data.x_train.shape == (36, 16, 16, 1) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (12, 16, 16, 1) and data.num_classes == 3
    assert data.info.classes == ("cat", "dog", "owl")
    assert any("decoding 48 images" in line for line in said)
    # Each class's brightness survives decoding and resizing (class means 40, 120, 200).
    means = [data.x_test[data.y_test == c].mean() for c in range(3)]
    assert means == sorted(means) and abs(means[0] - 40) < 15 and abs(means[2] - 200) < 15
    # Every class is in the last 10 % of the shuffled training order (validation_split).
    assert len(set(data.y_train[-12:].tolist())) == 3
    cache = tmp_path / "cache"
    assert [p.suffix for p in cache.iterdir()] == [".npz"]

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(image_data, "decode", no_decoding)
    again = load_configured(spec.data, said.append, seed=3)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    np.testing.assert_array_equal(again.y_test, data.y_test)


def test_one_folder_holds_out_the_test_split_from_each_class(tmp_path, write_config):
    root = _folder(tmp_path / "pets", layout="one", per_class=10)
    extra = "  test_split: 0.3\n"
    spec = load_config(_config(write_config, root, tmp_path, extra=extra))
    data = load_configured(spec.data, lambda line: None, seed=3)
    assert np.bincount(data.y_test).tolist() == [3, 3, 3]
    assert np.bincount(data.y_train).tolist() == [7, 7, 7]
    limited = load_config(_config(write_config, root, tmp_path, extra="  limit: {train: 5}\n"))
    assert len(load_configured(limited.data, lambda line: None, seed=3).x_train) == 5


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda root: (root / "train" / "dog" / "03.jpg").write_bytes(b""), "03.jpg is empty"),
        (
            lambda root: (root / "train" / "cat" / "05.png").write_text("not a picture"),
            "05.png is not a PNG image (it does not start as one does)",
        ),
        (
            lambda root: (root / "test" / "dog").rename(root / "test" / "wolf"),
            "train/ and test/ hold different classes (dog, wolf in one only)",
        ),
        (
            lambda root: [p.unlink() for p in (root / "train" / "owl").iterdir()],
            "class folder ",
        ),
    ],
    ids=["empty file", "not a png", "classes differ", "empty class"],
)
def test_a_bad_folder_is_one_line_per_problem_before_tensorflow(
    damage, expected, tmp_path, write_config
):
    root = _folder(tmp_path / "pets")
    damage(root)
    with pytest.raises(ConfigError) as caught:
        load_config(_config(write_config, root, tmp_path))
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 and "data.path: " in lines[0] and expected in lines[0]
    assert not (tmp_path / "cache").exists()


def test_every_unreadable_file_gets_its_own_line(tmp_path, write_config):
    root = _folder(tmp_path / "pets")
    for name in ("00.jpg", "02.jpg", "04.jpg"):
        (root / "train" / "owl" / name).write_bytes(b"GIF89a")
    with pytest.raises(ConfigError) as caught:
        load_config(_config(write_config, root, tmp_path))
    lines = str(caught.value).splitlines()
    assert [line.rsplit("/", 1)[1] for line in lines] == [
        f"{n}.jpg is not a JPG image (it does not start as one does)" for n in ("00", "02", "04")
    ]


def test_image_size_is_required_and_checked(tmp_path, write_config):
    root = _folder(tmp_path / "pets")
    text = _config(write_config, root, tmp_path).read_text()
    for size, expected in [
        ("", "data.dataset: image_folder needs image_size: [height, width]"),
        ("[16, 0]", "data.image_size: give [height, width], each 1-4096; got [16, 0]"),
    ]:
        changed = (
            text.replace("[16, 16]", size) if size else text.replace("image_size: [16, 16]", "")
        )
        config = write_config(changed, "changed.yaml")
        with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
            load_config(config)
    assert scan(root).counts("test") == [4, 4, 4]


def _history(run) -> list[dict]:
    with open(run.run_dir / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_trains_records_classes_predicts_names_and_resumes_exactly(tmp_path, write_config):
    root = _folder(tmp_path / "pets")
    config = _config(write_config, root, tmp_path, extra="  validation_split: 0.25\n")
    whole = cbrun.train(config, runs_dir=tmp_path / "a", quiet=True)
    assert whole.exit_code == 0
    summary = json.loads((whole.run_dir / "summary.json").read_text())
    assert summary["data"]["classes"] == ["cat", "dog", "owl"]
    assert summary["data"]["cache"].startswith(str(tmp_path / "cache"))
    part = cbrun.train(config, ["fit.epochs=1"], runs_dir=tmp_path / "b", quiet=True)
    resumed = cbrun.train(None, ["fit.epochs=2"], resume=part.run_dir, quiet=True)
    assert [r["val_loss"] for r in _history(resumed)] == [r["val_loss"] for r in _history(whole)]
    predictions = cbrun.predict(whole.run_dir, count=3)
    assert {p["label_name"] for p in predictions} <= {"cat", "dog", "owl"}
    assert all(p["prediction_name"] in ("cat", "dog", "owl") for p in predictions)
