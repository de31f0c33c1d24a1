"""`cbrun sweep`, and what `runs` and `plot` do with a sweep folder: thin, over `cbrun/sweep/`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cbrun.catalog.limits import MAX_JOBS, MAX_TRIALS
from cbrun.cli import modes
from cbrun.cli.options import make_console, make_sink, set_option, track_option, verbose_option


@click.command()
@click.argument("config", type=click.Path(path_type=Path), required=False)
@set_option
@click.option(
    "--trials",
    type=click.IntRange(min=1, max=MAX_TRIALS),
    help="Trials to finish (default: sweep.trials).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=MAX_JOBS),
    help="Worker processes, the cores divided among them (default: one per core, "
    "at most one per trial).",
)
@click.option(
    "--storage",
    metavar="URL",
    help="An Optuna RDB storage URL (default: SQLite in the sweep folder).",
)
@click.option(
    "--study", metavar="NAME", help="The study's name in the storage (default: the config's name)."
)
@click.option(
    "--runs-dir", type=click.Path(path_type=Path), help="Parent folder of the sweep folder."
)
@click.option(
    "--resume", type=click.Path(path_type=Path), metavar="SWEEP_DIR", help="Continue a sweep."
)
@track_option
@verbose_option
def sweep(config, overrides, trials, jobs, storage, study, runs_dir, resume, track, verbose):
    """Search the `sweep:` space of CONFIG with Optuna: one run folder per trial, the study
    in SQLite (or --storage, shared by processes on many machines), pruning by epoch,
    sweep.json and best.yaml; --resume continues a killed sweep."""
    from cbrun.sweep import folders as sweeps
    from cbrun.sweep.workers import default_jobs, run_workers

    modes.refuse_conflicts()
    if config is None and resume is None:
        raise click.UsageError("give a CONFIG, or --resume SWEEP_DIR")
    if resume is not None:
        found = sweeps.reopen(resume, trials=trials, sink=make_sink())
        interrupted, left = found.interrupted(), found.target - found.finished()
    else:
        found = sweeps.start(
            config,
            overrides,
            runs_dir=runs_dir,
            storage=storage,
            study=study,
            trials=trials,
            sink=make_sink(),
            track=track,
        )
        interrupted, left = [], found.target
    jobs = min(jobs, max(1, left)) if jobs else default_jobs(left)  # no idle workers
    sys.exit(run_workers(found, jobs, interrupted) if jobs > 1 else found.run())


def is_sweep(folder) -> bool:
    return folder is not None and (Path(folder) / "sweep.json").is_file()


def show_trials(folder: Path, as_json: bool, wide: bool = False) -> None:
    """`cbrun runs SWEEP_DIR`: the trials ranked by the objective."""
    import json

    from cbrun.after import views
    from cbrun.after.runs import sweep_rows

    rows = sweep_rows(folder)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        console = make_console()
        table, width = views.sweep_table(folder, rows, console, wide)
        console.width = width
        console.print(table)


def plot_trials(folder: Path, output) -> None:
    """`cbrun plot SWEEP_DIR`: the objective by trial, and against each parameter."""
    from cbrun.after.plotting import plot_sweep

    click.echo(f"wrote {plot_sweep(folder, output or folder / 'sweep.png')}")
