"""A sweep's folder: made for a new sweep (the config checked and recorded first), or
reopened to continue with the storage and study it recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

from cbrun.config.loading import load_config
from cbrun.output.rundir import CONFIG, atomic_write_text
from cbrun.sweep.space import check_sweep, grid_points
from cbrun.sweep.storage import check_holds, check_url, probe_sweep_outputs, recorded_state
from cbrun.sweep.study import SWEEP, Sweep
from cbrun.sweep.tracking import start_tracking


def start(
    config: Path, overrides=(), *, runs_dir=None, storage=None, study=None, trials=None, sink,
    track=(),
) -> Sweep:  # fmt: skip
    """A new sweep folder for `config` (checked first); `track` as `--track`."""
    from cbrun.config.tracking import with_tracking
    from cbrun.output.rundir import RunDir

    check_url(storage, study)
    spec = with_tracking(load_config(config, list(overrides)), track)
    check_sweep(Path(config), spec)
    probe_sweep_outputs(spec, runs_dir, storage)
    folder = RunDir.create(Path(runs_dir or spec.output.runs_dir), f"{spec.name}-sweep").path
    try:
        from cbrun.run.resume import absolute_paths, self_contained

        recorded = self_contained(
            absolute_paths(spec), (), [Path(config).resolve().parent, Path.cwd()]
        )
        atomic_write_text(folder / CONFIG, recorded.to_yaml())
        sweep = Sweep(folder, storage=storage, study=study, sink=sink)
        if storage:
            _ = sweep.study  # opened now: a wrong URL is one line, before any worker starts
        start_tracking(folder, spec, lambda line: sink.line(line, always=True))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    sweep.target = trials or spec.sweep.trials
    sink.line(f"sweep: {folder}  (storage {sweep.storage}, study {sweep.name})", always=True)
    points = grid_points(spec)
    if points is not None and sweep.target > points:
        sink.line(f"the grid has {points} points: {points} trials, not {sweep.target}", always=True)
        sweep.target = points
    return sweep


def reopen(folder: Path, *, trials=None, sink) -> Sweep:
    """A sweep folder to continue, with the storage and study it recorded."""
    from cbrun.filesystem import probe_file

    state = recorded_state(folder, SWEEP)
    probe_file(Path(folder) / SWEEP, "--resume")  # sweep.json and the trials are written
    sweep = Sweep(Path(folder), storage=state["storage"], study=state["study"], sink=sink)
    check_holds(sweep.trials(), state, folder)
    sweep.target = trials or state["trials_asked"]
    sink.line(
        f"resuming sweep {folder}: {sweep.finished()} of {sweep.target} trials finished",
        always=True,
    )
    return sweep
