"""The promise, class by class (issue 37): a mistake is one line, exit 2, nothing written;
a failure during a run is one line and leaves a resumable run or nothing.

Our own cases for each class the issue names; the fault matrix (test_faults.py) and the
mode table (test_modes.py) cover the paths and options wholesale.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.build.test_own_work import _work

SYS = Path("/sys/cbrun-promise")


def _one_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "unexpected" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ")
    return line


# 1. Filesystem faults


def test_a_runs_folder_export_and_init_on_a_read_only_mount_are_one_line(tiny_config, cli):
    line = _one_error(cli("train", tiny_config(), "--runs-dir", SYS / "runs"))
    assert line.startswith(f"Error: --runs-dir: cannot write {SYS / 'runs'}: /sys: ")
    line = _one_error(cli("init", "/sys/a.yaml"))
    assert line.startswith("Error: PATH: cannot write /sys/a.yaml: /sys: ")


def test_a_symlink_loop_inside_an_image_folder_is_one_line_at_validate(tmp_path, cli):
    from PIL import Image

    for label in ("cats", "dogs"):
        (tmp_path / "images" / label).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "images" / label / "one.png")
    os.symlink("loop.png", tmp_path / "images" / "cats" / "loop.png")
    config = tmp_path / "images.yaml"
    config.write_text(
        f"data: {{dataset: image_folder, path: {tmp_path / 'images'}, image_size: [8, 8]}}\n"
        "model: {name: cnn}\ncompile: {loss: sparse_categorical_crossentropy}\nfit: {epochs: 1}\n"
    )
    line = _one_error(cli("validate", config))
    assert line.endswith(
        "data.path: " + f"{tmp_path / 'images/cats/loop.png'}: a loop of symbolic links"
    )


def test_twenty_five_unreadable_images_are_twenty_lines_and_a_count(tmp_path, cli):
    for label in ("a", "b"):
        (tmp_path / "images" / label).mkdir(parents=True)
    for index in range(25):
        (tmp_path / "images" / "a" / f"{index:02d}.png").write_bytes(b"not a png")
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "b" / "ok.png")
    config = tmp_path / "images.yaml"
    config.write_text(
        f"data: {{dataset: image_folder, path: {tmp_path / 'images'}, image_size: [8, 8]}}\n"
        "model: {name: cnn}\ncompile: {loss: sparse_categorical_crossentropy}\nfit: {epochs: 1}\n"
    )
    result = cli("validate", config)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 21 and lines[-1].endswith("and 5 more files that are not images")
    assert "more problems" not in result.stderr


# 3. Checks the README promises


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["fit.class_weight=balanced"],
            "fit.class_weight: weighs classes, but compile.loss mean_squared_error regresses",
        ),
        (
            ["fit.steps_per_execution=99999999999999999999"],
            "fit.steps_per_execution: must be auto or an integer from 1 to 1000000000",
        ),
        (
            ["tracking.mlflow.uri=htp://127.0.0.1:5000"],
            "no MLflow store takes the scheme 'htp' (did you mean 'http'?)",
        ),
    ],
)
def test_what_the_readme_promises_is_checked_before_tensorflow(
    overrides, message, tiny_config, cli, tmp_path
):
    args = [item for override in overrides for item in ("--set", override)]
    line = _one_error(cli("train", tiny_config(), "--runs-dir", tmp_path / "runs", *args))
    assert message in line
    assert not (tmp_path / "runs").exists()


def test_a_weighted_class_no_label_holds_is_one_line_naming_its_place(tmp_path, cli, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.random((30, 4), dtype=np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=rng.integers(0, 3, 30), x_test=x,
             y_test=rng.integers(0, 3, 30))  # fmt: skip
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {dataset: arrays, path: d.npz, num_classes: 5}\nmodel: {name: mlp}\n"
        "compile: {loss: sparse_categorical_crossentropy}\n"
        "fit: {epochs: 1, class_weight: {4: 2.0}}\n"
    )
    monkeypatch.chdir(tmp_path)
    line = _one_error(cli("train", config, "--runs-dir", tmp_path / "runs"))
    assert line == (
        f"Error: {config}:4:36: fit.class_weight: class 4 has no training label (y_train holds "
        "classes 0, 1, 2): weigh only classes the labels hold"
    )
    assert not (tmp_path / "runs").exists()


# 4. Failures after TensorFlow loads


def test_a_plugin_model_whose_output_cannot_meet_the_loss_leaves_nothing(tmp_path, cli):
    config = _work(tmp_path / "w", marker_exists=True)
    # A module name of its own: a worker that ran another test holds my_models imported.
    (config.parent / "unfit_models.py").write_text(
        "import keras\n\ndef unflattened(input_shape, num_classes):\n"
        "    inputs = keras.Input(shape=input_shape)\n"
        "    return keras.Model(inputs, keras.layers.Dense(num_classes)(inputs))\n"
    )
    text = config.read_text().replace(
        "'my_models:build_net', args: {width: 12}", "'unfit_models:unflattened'"
    )
    config.write_text(text.replace("plugins: [my_models,", "plugins: [unfit_models,"))
    line = _one_error(cli("train", config, "--runs-dir", tmp_path / "runs"))
    assert line.startswith("Error: TensorFlow refused the config's data, model or loss: ")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_augmentation_keras_refuses_leaves_no_run_folder(tiny_config, cli, tmp_path):
    config = tiny_config(
        "data: {dataset: mnist, source: bundled, flatten: false, limit: {train: 64, test: 32},"
        " augment: [{name: RandomContrast, args: {factor: 5.0}}]}\nmodel: {name: cnn}\n"
        "compile: {loss: sparse_categorical_crossentropy}\n"
    )
    line = _one_error(cli("train", config, "--runs-dir", tmp_path / "runs"))
    assert "data.augment[0]: RandomContrast: The `factor` argument should be" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_resume_whose_config_was_edited_to_another_width_is_one_line(tiny_config, cli, tmp_path):
    config = tiny_config("model: {name: mlp, args: {units: [8]}}\n"
                         "compile: {loss: sparse_categorical_crossentropy}\n"
                         "fit: {batch_size: 32, epochs: 1, steps_per_epoch: 2}")  # fmt: skip
    run = tmp_path / "run"
    assert cli("train", config, "--run-dir", run, "--quiet").exit_code == 0
    saved = run / "config.yaml"
    saved.write_text(saved.read_text().replace("- 8", "- 16"))
    line = _one_error(cli("train", "--resume", run, "--set", "fit.epochs=2"))
    assert "the run's config.yaml no longer builds the model it trained" in line
    assert "(8,)" in line or "(784, 8)" in line


# 6. Self-contained and idempotent


def test_a_fine_tuning_run_resumes_from_its_own_checkpoint_when_its_source_is_gone(
    tiny_config, cli, tmp_path
):
    base = tiny_config("fit: {batch_size: 32, epochs: 1, steps_per_epoch: 2}")
    source = tmp_path / "source"
    assert cli("train", base, "--run-dir", source, "--quiet").exit_code == 0
    tuned = tmp_path / "tuned"
    first = cli("train", base, "--run-dir", tuned, "--quiet", "--set", f"model.init_from={source}")
    assert first.exit_code == 0, first.output
    shutil.rmtree(source)
    again = cli("train", "--resume", tuned, "--set", "fit.epochs=2")
    assert again.exit_code == 0, again.output
    assert "epoch 2/2" in again.stdout


def test_init_from_a_truncated_model_says_damaged(tiny_config, cli, tmp_path):
    source = tmp_path / "source"
    config = tiny_config("fit: {batch_size: 32, epochs: 1, steps_per_epoch: 1}")
    assert cli("train", config, "--run-dir", source, "--quiet").exit_code == 0
    model = source / "model.keras"
    model.write_bytes(model.read_bytes()[:200])
    line = _one_error(cli("validate", config, "--set", f"model.init_from={source}"))
    assert line.endswith(f"{model}: not a readable .keras file (truncated or damaged)")


# 7. Written paths relative to the folder the printed command runs in


def test_init_in_a_sub_folder_prints_a_command_that_works(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    result = cli("init", "sub/a.yaml", "--dataset", "arrays")
    assert result.exit_code == 0 and result.stdout.rstrip().endswith("cbrun train sub/a.yaml")
    assert "path: sub/a_arrays.npz" in (tmp_path / "sub" / "a.yaml").read_text()
    assert cli("validate", "sub/a.yaml").exit_code == 0


def test_evaluate_refuses_a_set_it_would_ignore(tiny_config, cli, tmp_path):
    run = tmp_path / "run"
    config = tiny_config("fit: {batch_size: 32, epochs: 1, steps_per_epoch: 1}")
    assert cli("train", config, "--run-dir", run, "--quiet").exit_code == 0
    line = _one_error(cli("evaluate", run, "--set", "model.name=mlp"))
    assert line.startswith("Error: --set model.name=mlp: evaluate does not read model")
    assert not (run / "evaluate.json").exists()
    assert cli("evaluate", run, "--set", "evaluate.steps=1", "--json").exit_code == 0


def test_a_fine_tuned_run_is_evaluated_after_its_source_is_gone(tiny_config, cli, tmp_path):
    base = tiny_config("fit: {batch_size: 32, epochs: 1, steps_per_epoch: 1}")
    source, tuned = tmp_path / "source", tmp_path / "tuned"
    assert cli("train", base, "--run-dir", source, "--quiet").exit_code == 0
    started = cli(
        "train", base, "--run-dir", tuned, "--quiet", "--set", f"model.init_from={source}"
    )
    assert started.exit_code == 0, started.output
    shutil.rmtree(source)
    assert cli("evaluate", tuned, "--json").exit_code == 0
    assert cli("predict", tuned, "--json", "-n", "2").exit_code == 0
