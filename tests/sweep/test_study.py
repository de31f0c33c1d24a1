"""`cbrun sweep` on Optuna: trials as run folders, pruning, and a killed sweep resumed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from cbrun.config.loading import load_config
from tests.conftest import ROOT, run_cbrun

SWEEP = """\
name: sw
seed: 0
data: {{dataset: mnist, source: bundled, limit: {{train: 512, test: 128}}, validation_split: 0.25}}
model: {{name: mlp, args: {{units: [8]}}}}
compile:
  optimizer: {{name: adam, args: {{learning_rate: 0.001}}}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {{batch_size: 32, epochs: 2, steps_per_epoch: 3}}
evaluate: {{batch_size: 64, steps: 1}}
{extra}
sweep:
  objective: {{monitor: val_accuracy, mode: max}}
  sampler: random
  trials: {trials}
  seed: 3
  pruner: {pruner}
  space:
    model.args.units: {{choice: [[8], [16]]}}
    compile.optimizer.args.learning_rate: {{log_uniform: [1.0e-4, 1.0e-2]}}
"""


def _config(folder, trials=2, pruner="none", extra=""):
    config = folder / "sweep.yaml"
    text = SWEEP.format(
        trials=trials, pruner=f"{{type: {pruner}}}" if "{" not in pruner else pruner, extra=extra
    )
    config.write_text(text)
    return config


def _only(folder):
    (found,) = (folder / "runs").iterdir()
    return found, json.loads((found / "sweep.json").read_text())


def test_a_sweep_writes_every_trial_its_study_and_the_best_config(tmp_path, cli):
    result = cli("sweep", _config(tmp_path), "--jobs", 1, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    folder, state = _only(tmp_path)
    assert {"study.db", "sweep.json", "best.yaml", "config.yaml", "trials"} <= {
        p.name for p in folder.iterdir()
    }
    assert [t["status"] for t in state["trials"]] == ["complete", "complete"]
    for trial in state["trials"]:
        run = Path(trial["run_dir"])
        saved = load_config(run / "config.yaml")
        assert saved.model.args["units"] == trial["params"]["model.args.units"]
        lr = saved.compile.optimizer.args["learning_rate"]
        assert lr == trial["params"]["compile.optimizer.args.learning_rate"]
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "completed"
        history = (run / "history.csv").read_text().splitlines()[1:]
        best = max(float(row.split(",")[-2]) for row in history)  # val_accuracy column
        assert trial["objective"] == best
    best = state["best"]
    assert best["objective"] == max(t["objective"] for t in state["trials"])
    best_config = yaml.safe_load((folder / "best.yaml").read_text())
    assert "sweep" not in best_config
    assert best_config["model"]["args"]["units"] == best["params"]["model.args.units"]
    assert "trial 1: val_accuracy" in result.stdout

    ranked = json.loads(cli("runs", folder, "--json").stdout)
    objectives = [row["objective"] for row in ranked]
    assert objectives == sorted(objectives, reverse=True) and len(ranked) == 2
    table = cli("runs", folder)
    assert table.exit_code == 0 and "trials of" in table.stdout
    plotted = cli("plot", folder)
    assert plotted.exit_code == 0 and (folder / "sweep.png").is_file()
    import matplotlib.image

    pixels = matplotlib.image.imread(folder / "sweep.png")
    assert pixels.shape[:2] == (360, 3 * 420)  # the objective, then each of 2 parameters


def test_a_pruned_trial_is_pruned_and_its_run_stays_valid(tmp_path, cli):
    config = _config(tmp_path, trials=1, pruner="{type: threshold, lower: 0.999}")
    result = cli("sweep", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    folder, state = _only(tmp_path)
    (trial,) = state["trials"]
    assert trial["status"] == "pruned" and trial["epochs"] == 1
    summary = json.loads((folder / "trials" / "trial-0000" / "summary.json").read_text())
    assert summary["status"] == "stopped_early" and summary["epochs_run"] == 1
    assert (folder / "trials" / "trial-0000" / "model.keras").is_file()
    assert state["best"] is None and not (folder / "best.yaml").exists()


def test_a_killed_sweep_resumes_to_exactly_the_asked_trials(tmp_path, cli):
    shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", tmp_path)
    marker = tmp_path / "killed"
    kill = (
        "plugins: [kill_switch]\n"
        "callbacks: [{name: 'kill_switch:KillSwitch',\n"
        f"             args: {{epoch: 1, batch: 1, marker: {marker}}}}}]"
    )
    config = _config(tmp_path, trials=3, extra=kill)
    killed = run_cbrun("sweep", config, "--jobs", 1, "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    assert killed.returncode == -9, killed.stderr
    folder, _ = _only(tmp_path)
    result = cli("sweep", "--resume", folder, "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert f"resuming sweep {folder}: 0 of 3 trials finished" in result.stdout
    state = json.loads((folder / "sweep.json").read_text())
    assert [t["status"] for t in state["trials"]] == ["complete"] * 3
    first = json.loads((folder / "trials" / "trial-0000" / "summary.json").read_text())
    assert first["resumed"][0]["at_epoch"] == 1  # continued from its checkpoint
    rates = [t["params"]["compile.optimizer.args.learning_rate"] for t in state["trials"]]
    assert len(set(rates)) == 3  # a resumed sampler does not draw the same values again


def test_a_sweep_is_checked_before_anything_runs(tmp_path, cli):
    config = _config(tmp_path)
    text = config.read_text()
    config.write_text(
        text.replace("model.args.units", "model.args.unitz").replace(
            "monitor: val_accuracy", "monitor: val_acc"
        )
    )
    result = cli("sweep", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    # Each at its line in the file (the space key's line for a value it would set), in order.
    assert result.stderr.splitlines() == [
        f"Error: {config}:13:15: sweep.objective.monitor: the run never logs 'val_acc'; it logs "
        "accuracy, learning_rate, loss, val_accuracy, val_loss "
        "(did you mean 'val_accuracy'?)",
        f"Error: {config}:19:5: model.args.unitz: unknown argument of mlp (did you mean 'units'?)",
    ]
    assert not (tmp_path / "runs").exists()


def test_help_imports_neither_tensorflow_nor_optuna():
    heavy = "{'tensorflow', 'optuna', 'keras'}"
    code = f"import sys, cbrun.cli.main; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_trials_in_one_process_share_one_loaded_dataset(tmp_path):
    from cbrun.data.datasets import keeping_last_dataset, load_configured

    config = _config(tmp_path)
    spec, smaller = load_config(config), load_config(config, ["data.limit.train=256"])
    said = []
    with keeping_last_dataset():
        first, again = (
            load_configured(spec.data, said.append),
            load_configured(spec.data, said.append),
        )
        other = load_configured(smaller.data, said.append)
    assert first is again and other is not first and len(other.x_train) == 256
    assert len(said) == 3 and said[0] == said[1]  # each run still says where its data came from
    assert load_configured(spec.data, said.append) is not first  # kept only inside the block


DIVERGING = """\
name: diverging
seed: 0
data: {dataset: mnist, source: bundled, limit: {train: 512, test: 128}, validation_split: 0.25}
model: {name: linear}
compile:
  optimizer: {name: sgd, args: {learning_rate: 0.001}}
  loss: mean_squared_error
fit: {batch_size: 32, epochs: 2, steps_per_epoch: 3}
evaluate: {enabled: false}
sweep:
  objective: {monitor: val_loss, mode: min}
  sampler: SAMPLER
  trials: 2
  pruner: {type: none}
  space:
    compile.optimizer.args.learning_rate: SPACE
"""


def test_a_diverging_trial_fails_and_the_sweep_goes_on(tmp_path, cli):
    config = tmp_path / "diverging.yaml"
    config.write_text(
        DIVERGING.replace("SAMPLER", "grid").replace("SPACE", "{choice: [1.0e+6, 1.0e-6]}")
    )
    result = cli("sweep", config, "--jobs", 1, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "trial 0: failed: loss became inf" in result.stdout
    assert "1 of 2 trials finished, 1 failed; best: trial 1, val_loss" in result.stdout
    _, state = _only(tmp_path)
    failed, complete = state["trials"]
    assert failed["status"] == "fail" and failed["error"].startswith("loss became inf")
    assert complete["status"] == "complete" and state["best"]["number"] == 1


def test_a_sweep_whose_every_trial_diverges_stops(tmp_path, cli):
    config = tmp_path / "diverging.yaml"
    space = "{log_uniform: [1.0e+5, 1.0e+6]}"
    config.write_text(DIVERGING.replace("SAMPLER", "random").replace("SPACE", space))
    result = cli("sweep", config, "--jobs", 1, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["Error: 2 trials failed; stopping the sweep"]
    _, state = _only(tmp_path)
    assert [t["status"] for t in state["trials"]] == ["fail", "fail"]
