"""`cbrun export`: each format made by Keras, loaded back in its own runtime and checked
against the Keras model; refusals before TensorFlow in one line."""

from __future__ import annotations

import json
import shutil

import pytest

from cbrun import api
from cbrun.after import export as exporting

FORMATS = ["saved_model"]
for name, modules in (("onnx", ("tf2onnx", "onnxruntime")), ("litert", ("ai_edge_litert",))):
    try:
        for module in modules:
            __import__(module)
        FORMATS.append(name)
    except ImportError:
        pass  # the extra is not installed: its format is tested where it is (.[dev])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    config = {
        "name": "exported",
        "data": {"dataset": "mnist", "source": "bundled", "limit": {"train": 256, "test": 300}},
        "model": {"name": "mlp", "args": {"units": [8]}},
        "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
        "fit": {"epochs": 1, "batch_size": 64},
        "evaluate": {"enabled": False},
    }
    return api.train(config, run_dir=folder / "run", quiet=True).run_dir


def test_every_installed_format_round_trips_within_the_tolerance(trained, cli, tmp_path):
    args = [a for name in FORMATS for a in ("--format", name)]
    result = cli("export", trained, *args, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((tmp_path / "out" / "export.json").read_text())
    assert report["samples"] == 256 and report["tolerance"] == exporting.TOLERANCE
    assert sorted(report["formats"]) == sorted(FORMATS)
    for name, found in report["formats"].items():
        assert found["verified"] and found["max_abs_difference"] <= exporting.TOLERANCE, name
        assert found["argmax_agreement"] == 1.0, name
        assert found["input_signature"]["shape"] == [None, 784], name  # a dynamic batch
        assert found["bytes"] > 1000 and all(found["versions"].values()), name
        assert (tmp_path / "out" / exporting.FORMATS[name].target).exists()


def test_an_export_beyond_the_tolerance_is_exit_1(trained, cli, tmp_path, monkeypatch):
    monkeypatch.setattr(exporting, "TOLERANCE", -1.0)  # nothing can be that close
    result = cli("export", trained, "--format", "saved_model", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "NO" in result.stdout
    assert result.stderr == "Error: saved_model: outputs differ beyond the tolerance\n"


def test_the_default_folder_is_in_the_run_and_is_never_overwritten(trained, cli):
    shutil.rmtree(trained / "export", ignore_errors=True)
    first = cli("export", trained, "--format", "saved_model")
    assert first.exit_code == 0, first.output
    assert "verified" in first.stdout and (trained / "export" / "export.json").is_file()
    again = cli("export", trained, "--format", "saved_model")
    assert again.exit_code == 2
    assert again.stderr == (
        f"Error: {trained / 'export'} exists: give another -o PATH, or remove it\n"
    )


def test_refusals_are_one_line_before_tensorflow(trained, cli, tmp_path, monkeypatch):
    import cbrun.catalog.extras

    no_model = tmp_path / "no-model"
    shutil.copytree(trained, no_model, ignore=shutil.ignore_patterns("model.keras", "export"))
    cases = {
        ("export", no_model, "--format", "onnx"): f"{no_model}: the run has no model.keras",
        ("export", tmp_path / "nowhere", "--format", "onnx"): "nowhere",
    }
    for args, words in cases.items():
        result = cli(*args)
        assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, args
        assert words in result.stderr, args
    unknown = cli("export", trained, "--format", "tflite")
    assert unknown.exit_code == 2 and "'tflite' is not one of" in unknown.stderr
    monkeypatch.setitem(cbrun.catalog.extras.EXTRAS, "onnx", ("onnx_not_installed_here",))
    missing = cli("export", trained, "--format", "onnx", "-o", tmp_path / "x")
    assert missing.exit_code == 2
    assert missing.stderr == (
        "Error: --format onnx needs the onnx extra: pip install 'cbrun[onnx]'\n"
    )
    assert not (tmp_path / "x").exists()
