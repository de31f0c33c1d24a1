"""The `sweep:` section as Optuna's parts, each rule tested as a function."""

from __future__ import annotations

import pytest
import yaml

from cbrun.config.loading import load_config
from cbrun.errors import ConfigError, UsageError
from cbrun.sweep.space import (
    check_sweep,
    grid_point,
    grid_points,
    make_pruner,
    overrides_for,
    trial_seed,
)
from tests.conftest import CONFIGS

SWEEP = CONFIGS / "sweep_mlp.yaml"


def test_overrides_are_yaml_text_that_reads_back_as_the_values():
    params = {"model.args.units": [32, 16], "fit.epochs": 2, "compile.loss": "mae"}
    found = overrides_for(params)
    assert found[0] == "model.args.units=[32, 16]"
    back = {key: yaml.safe_load(value) for key, _, value in (o.partition("=") for o in found)}
    assert back == params


def test_trial_seeds_differ_by_trial_and_by_sweep_seed():
    seeds = {trial_seed(seed, trial) for seed in (0, 1) for trial in range(4)}
    assert len(seeds) == 8
    assert trial_seed(0, 3) == trial_seed(0, 3)


def test_a_grid_counts_and_orders_its_points():
    spec = load_config(
        SWEEP,
        [
            "sweep.sampler=grid",
            "sweep.space={model.args.units: {choice: [[32], [64]]}, "
            "fit.batch_size: {choice: [32, 64, 128]}}",
        ],
    )
    assert grid_points(spec) == 6
    assert grid_point(spec, 0) == {"model.args.units": [32], "fit.batch_size": 32}
    assert grid_point(spec, 5) == {"model.args.units": [64], "fit.batch_size": 128}
    assert grid_points(load_config(SWEEP)) is None  # tpe: no grid


def test_the_median_pruner_waits_for_a_quarter_of_the_trials():
    pruner = make_pruner(load_config(SWEEP, ["sweep.trials=12"]))
    assert type(pruner).__name__ == "MedianPruner"
    assert pruner._n_startup_trials == 3


def test_a_space_value_that_would_not_validate_is_a_config_problem(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(
        SWEEP.read_text().replace("{choice: [[32], [64], [128], [256]]}", "{choice: [[32], -4]}")
    )
    with pytest.raises(ConfigError) as caught:
        check_sweep(config, load_config(config))
    assert "model.args.units" in str(caught.value)


def test_an_objective_the_run_never_logs_is_named_with_what_it_logs(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(SWEEP.read_text().replace("monitor: val_accuracy", "monitor: val_acc"))
    with pytest.raises(ConfigError) as caught:
        check_sweep(config, load_config(config))
    assert "the run never logs 'val_acc'" in str(caught.value)
    assert "did you mean 'val_accuracy'" in str(caught.value)


def test_a_config_without_a_sweep_section_is_refused():
    with pytest.raises(UsageError, match="no sweep: section"):
        check_sweep(CONFIGS / "early_stop.yaml", load_config(CONFIGS / "early_stop.yaml"))


def test_a_new_grid_sweep_is_capped_at_its_points_and_a_foreign_folder_refused(tmp_path):
    import io

    from rich.console import Console

    from cbrun.output.logsink import LogSink
    from cbrun.sweep.folders import reopen, start

    console = Console(file=io.StringIO(), width=120)
    sink = LogSink(console)
    overrides = ["sweep.sampler=grid", "sweep.space={fit.batch_size: {choice: [32, 64]}}"]
    sweep = start(SWEEP, overrides, runs_dir=tmp_path / "runs", trials=5, sink=sink)
    assert sweep.target == 2
    assert "the grid has 2 points: 2 trials, not 5" in console.file.getvalue()
    with pytest.raises(UsageError, match="not a cbrun sweep folder"):
        reopen(tmp_path, sink=sink)


def test_workers_divide_the_cores_between_them():
    from cbrun.sweep.workers import cores, default_jobs, threads_per_job

    assert default_jobs(1) == 1
    assert default_jobs(1000) == cores()
    assert threads_per_job(1) == cores()
    assert threads_per_job(cores() * 2) == 1


def test_the_space_as_sweep_json_keeps_it():
    from cbrun.config.sweep_spec import Dimension
    from cbrun.sweep.space import space_summary

    space = {
        "model.args.units": Dimension(choice=[[64], [32]]),
        "compile.optimizer.args.learning_rate": Dimension(log_uniform=[1e-4, 1e-2]),
        "fit.batch_size": Dimension(**{"int": [16, 64]}),
    }
    assert space_summary(space) == {
        "model.args.units": {"choice": [[64], [32]]},
        "compile.optimizer.args.learning_rate": {"log_uniform": [1e-4, 1e-2]},
        "fit.batch_size": {"integer": [16, 64]},
    }


def test_grid_and_objective_problems_name_their_line(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(
        SWEEP.read_text()
        .replace("monitor: val_accuracy", "monitor: val_acc")
        .replace("sampler: tpe ", "sampler: grid")
    )
    with pytest.raises(ConfigError) as caught:
        check_sweep(config, load_config(config))
    lines = str(caught.value).replace(str(config), "F").splitlines()
    assert lines[0].startswith("F:14:15: sweep.objective.monitor: the run never logs 'val_acc'")
    assert lines[1] == (
        "F:21:5: sweep.space.compile.optimizer.args.learning_rate: sampler grid takes choice "
        "lists, not log_uniform"
    )
