"""`backend: jax`: the same configs, callbacks, resume, sweeps and export on Keras's JAX
backend, with no TensorFlow import on its path; what cannot work is refused in one line
before any backend is imported.

A JAX run needs a process of its own (this one runs Keras on TensorFlow, and Keras takes
its backend once, at its import): each such test starts a cold interpreter, so they are
few and each checks much (tests/jax_runs.py trains ten runs in one).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cbrun import backend
from cbrun.cli.main import cli
from cbrun.errors import UsageError
from tests.conftest import ROOT, in_a_fresh_interpreter, run_cbrun

pytest.importorskip(
    "jax", reason="the JAX backend's tests need the jax extra: pip install -e '.[dev]'"
)
pytestmark = pytest.mark.jax

CHATTER = ("oneDNN", "cuda", "absl", "xla_bridge", "Platform", "TF_CPP")

KILLABLE = """\
name: killable
backend: jax
seed: 3
plugins: [kill_switch]
data: {{dataset: mnist, source: bundled, limit: {{train: 512, test: 128}}, validation_split: 0.25}}
model: {{name: mlp, args: {{units: [16], dropout: 0.2}}}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.01}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 32, epochs: 5, steps_per_epoch: 4}}
evaluate: {{batch_size: 64, steps: 2}}
callbacks:
  - {{name: ReduceLROnPlateau, args: {{monitor: loss, factor: 0.5, patience: 1}}}}
  - {{name: EarlyStopping, args: {{monitor: val_loss, patience: 20}}}}
  - {{name: CSVLogger, args: {{filename: epochs.csv}}}}
  - {{name: kill_switch:KillSwitch, args: {{epoch: {epoch}, batch: 1, marker: {marker}}}}}
"""


def _jax(*args, cwd):
    """`cbrun ARGS` in a cold interpreter (a JAX run cannot fork from this TensorFlow one)."""
    return run_cbrun(*args, cwd=cwd, fresh=True)


def test_runs_train_evaluate_and_predict_on_jax_without_tensorflow(tmp_path):
    """Six runs in one cold process (tests/jax_runs.py): DataParallel on two devices, own
    arrays with augmentation, class weights, mixed precision, EMA and steps_per_execution,
    an image folder with a backbone frozen then unfrozen, every callback of the registry;
    evaluate, predict and a SavedModel export. TensorFlow is imported by nothing until a
    run writes TensorBoard files, and the console stays clean."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "jax_runs.py"), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, NO_COLOR="1"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert set(report["runs"]) == {
        "data-parallel", "one-device", "own-arrays", "folder-backbone", "every-callback", "tracked"
    }  # fmt: skip
    # mirrored on JAX: Keras's DataParallel over two CPU devices, the same numbers as one
    assert report["data-parallel"]["replicas"] == 2 and report["one-device"]["replicas"] == 1
    one, two = (
        _history_values(report[name]["history"]) for name in ("one-device", "data-parallel")
    )
    np.testing.assert_allclose(two, one, rtol=1e-4)
    assert all(run == ["completed", "jax"] for run in report["runs"].values()), report["runs"]
    assert report["keras_backend"] == "jax"
    assert report["tensorflow_before"] == []  # the point: no TensorFlow on the JAX path
    assert "tensorflow" in report["tensorflow_after"]  # TensorBoard's event files need it
    assert set(report["evaluate"]) == {"loss", "accuracy"} and report["predict"] == 3
    assert not [line for line in done.stderr.splitlines() if any(c in line for c in CHATTER)]
    # evaluate/predict of the EMA-trained run: Keras's "Skipping variable loading for
    # optimizer" warning is kept off the console (cbrun/after/inference.load_model)
    assert not done.stderr.strip(), done.stderr[-2000:]
    saved_model = report["export"]["formats"]["saved_model"]
    assert report["export"]["backend"] == "jax" and saved_model["verified"]
    pillow_cache = list((tmp_path / "cache").glob("images-*.npz"))
    assert len(pillow_cache) == 1  # decoded once, by Pillow


def _history_values(text: str) -> np.ndarray:
    rows = list(csv.DictReader(text.splitlines()))
    return np.array([[float(row[key]) for key in ("loss", "val_loss")] for row in rows])


def _killable(folder: Path, epoch: int) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", folder)
    config = folder / "killable.yaml"
    config.write_text(KILLABLE.format(epoch=epoch, marker=folder / "killed"))
    return config


def _final_state(run: Path):
    import keras  # a .keras file loads on either backend: its numbers are the same

    model = keras.models.load_model(run / "model.keras")
    return model.get_weights(), [np.asarray(v) for v in model.optimizer.variables]


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory):
    """An uninterrupted JAX run, and one SIGKILLed in epoch 3 (after epoch 2's checkpoint)."""
    base = tmp_path_factory.mktemp("jax")
    whole = _killable(base / "whole", -1)
    assert (
        _jax("train", whole, "--run-dir", base / "whole" / "run", cwd=whole.parent).returncode == 0
    )
    killed = _killable(base / "killed", 2)
    died = _jax("train", killed, "--run-dir", base / "killed" / "run", cwd=killed.parent)
    assert died.returncode == -signal.SIGKILL, died.stderr
    return base / "whole" / "run", base / "killed" / "run"


def test_a_killed_jax_run_resumes_exactly(jax_runs, tmp_path):
    """kill -9 in epoch 3, `--resume`: the weights, the optimizer's state (dropout draws
    included, through the seed generators the checkpoint holds), every history column and
    the CSVLogger's file equal the uninterrupted JAX run's."""
    whole, killed = jax_runs
    run = shutil.copytree(killed.parent, tmp_path / "killed") / "run"
    resumed = _jax("train", "--resume", run, cwd=run.parent)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "Keras on jax" in resumed.stdout
    for ours, theirs in zip(_final_state(run), _final_state(whole), strict=True):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
    for name in ("history.csv", "epochs.csv"):
        with open(run / name) as a, open(whole / name) as b:
            assert list(csv.reader(a)) == list(csv.reader(b)), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["backend"] == "jax" and summary["versions"]["jax"]


def test_resuming_on_the_other_backend_is_refused(jax_runs):
    """One line before any import; the run is untouched."""
    _, killed = jax_runs
    before = sorted(p.name for p in killed.iterdir())
    result = CliRunner().invoke(
        cli, ["train", "--resume", str(killed), "--set", "backend=tensorflow"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "was trained on backend jax: it resumes on jax only" in result.stderr
    assert sorted(p.name for p in killed.iterdir()) == before


def test_export_from_jax_refuses_what_keras_cannot_make_there(jax_runs, tmp_path):
    """LiteRT and ONNX: one line before any import, naming `--backend tensorflow`. (A JAX
    run's SavedModel is exported and verified in tests/jax_runs.py.)"""
    whole, _ = jax_runs
    for name in ("litert", "onnx"):
        refused = CliRunner().invoke(cli, ["export", str(whole), "--format", name])
        assert refused.exit_code == 2
        assert f"Keras on jax cannot export {name}" in refused.stderr
        assert "--backend tensorflow" in refused.stderr
    assert not (whole / "export").exists()


SWEEP = """\
name: backends
data: {dataset: mnist, source: bundled, limit: {train: 512, test: 128}, validation_split: 0.25}
model: {name: mlp, args: {units: [16]}}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy}
fit: {batch_size: 64, epochs: 2}
sweep:
  trials: 2
  sampler: grid
  pruner: {type: none}
  objective: {monitor: val_loss, mode: min}
  space:
    backend: {choice: [tensorflow, jax]}
"""


def test_a_sweep_searches_over_the_backend(tmp_path):
    """Each trial in a process of its own, on the backend it drew."""
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    done = run_cbrun("sweep", "sweep.yaml", "--jobs", "1", cwd=tmp_path, fresh=True)
    assert done.returncode == 0, done.stderr
    trials = sorted(tmp_path.glob("runs/*/trials/trial-*/summary.json"))
    drawn = [json.loads(path.read_text()) for path in trials]
    assert sorted(s["backend"] for s in drawn) == ["jax", "tensorflow"]
    assert all(s["status"] == "completed" for s in drawn)
    from cbrun.sweep.study import Sweep

    folder = trials[0].parents[2]
    assert Sweep(folder, storage=None, study=None, sink=None).trial_processes
    record = json.loads((folder / "sweep.json").read_text())  # as each trial's process wrote it
    assert (
        record["trials_asked"] == 2 and [t["status"] for t in record["trials"]] == ["complete"] * 2
    )


BAD = [
    ("backend: jaxx", "backend: must be one of tensorflow, jax; got 'jaxx' (did you mean 'jax'?)"),
    (
        "backend: jax\ndistribute: {strategy: multi_worker_mirrored}",
        "distribute.strategy: multi_worker_mirrored is a tf.distribute strategy, which backend "
        "jax does not have",
    ),
    (
        "backend: jax\ndistribute: {strategy: mirrored, devices: ['/gpu:0']}",
        "distribute.devices: names TensorFlow's devices; on backend jax, mirrored takes every "
        "device JAX sees",
    ),
]
BASE = """\
model: {name: mlp}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy}
fit: {epochs: 1}
"""


@pytest.mark.parametrize(("top", "said"), BAD, ids=["unknown", "multi-worker", "devices"])
def test_what_jax_cannot_run_is_one_line_before_any_import(top, said, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(top + "\n" + BASE)
    result = CliRunner().invoke(cli, ["train", str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert said in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_jax_without_its_extra_names_the_extra(monkeypatch, tmp_path):
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else found(name, *a)
    )
    config = tmp_path / "c.yaml"
    config.write_text("backend: jax\n" + BASE)
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 2
    assert "c.yaml:1:10: backend: jax needs the jax package: pip install 'cbrun[jax]'" in (
        result.stderr
    )


def test_validating_a_jax_config_imports_no_backend(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("backend: jax\n" + BASE)
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom cbrun.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['validate', sys.argv[1]])\n"
        "print(result.exit_code, sorted({m.split('.')[0] for m in sys.modules} & "
        "{'jax', 'keras', 'tensorflow'}))"
    )
    done = in_a_fresh_interpreter(code, config)
    assert done.stdout.split("\n")[-2] == "0 []", done.stderr


def test_keras_cannot_change_backend_in_a_running_process():
    """This process runs Keras on TensorFlow (tests/conftest.py): JAX is refused, in words."""
    with pytest.raises(UsageError, match="runs Keras on tensorflow already"):
        backend.use_backend("jax")
    backend.use_backend("tensorflow")  # the one it runs: fine


def test_the_config_decides_over_keras_backend(monkeypatch):
    monkeypatch.setattr(backend, "SHELL_BACKEND", "jax")
    assert backend.ignored_shell_backend() == "KERAS_BACKEND=jax"
    monkeypatch.setattr(backend, "SHELL_BACKEND", "tensorflow")
    assert backend.ignored_shell_backend() is None


def test_what_needs_tensorflow_on_jax_is_named():
    from cbrun.config.backend_checks import tensorflow_needed
    from cbrun.config.loading import load_config

    spec = load_config(ROOT / "configs" / "builtins.yaml", ["tracking.tensorboard=false"])
    assert tensorflow_needed(spec) == ["callbacks[3] TensorBoard"]
    spec = load_config(ROOT / "configs" / "early_stop.yaml", ["tracking.tensorboard=true"])
    assert tensorflow_needed(spec) == ["tracking.tensorboard"]


def test_a_trial_in_its_own_process_ends_with_its_code():
    from cbrun.sweep.processes import run_in_child

    assert run_in_child(lambda: 7) == 7
    assert run_in_child(lambda: os.kill(os.getpid(), signal.SIGTERM)) == -signal.SIGTERM
