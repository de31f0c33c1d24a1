"""What is done with finished runs: `runs`, `plot` and `track`. Thin, over `cbrun/after/`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cbrun.cli.options import make_console, track_option


@click.command()
@click.option(
    "--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), help="Where runs are."
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.option(
    "--wide", is_flag=True, help="Every column, however wide (by default: what fits the console)."
)
@click.argument("folder", type=click.Path(path_type=Path), required=False)
def runs(runs_dir, as_json, wide, folder):
    """One row per past run, newest first: status, epochs, metrics, duration; for a sweep
    folder (FOLDER), its trials ranked by the objective."""
    from cbrun.after import views
    from cbrun.after.runs import list_runs
    from cbrun.cli.sweep import is_sweep, show_trials

    if is_sweep(folder):
        return show_trials(folder, as_json, wide)
    rows = list_runs(folder or runs_dir)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console = make_console()
    table, width = views.runs_table(folder or runs_dir, rows, console, wide)
    console.width = width
    console.print(table)


@click.command()
@click.argument(
    "run_dirs", metavar="RUN_DIR...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="The PNG to write. Defaults to RUN_DIR/curves.png for one run, else curves.png here.",
)
def plot(run_dirs, output):
    """Learning curves of runs (every metric, train and validation, the learning rate);
    for a sweep folder, the objective by trial and against each parameter."""
    from cbrun.after.plotting import plot_runs
    from cbrun.cli.sweep import is_sweep, plot_trials
    from cbrun.output.rundir import RunDir

    if len(run_dirs) == 1 and is_sweep(run_dirs[0]):
        return plot_trials(run_dirs[0], output)
    folders = [RunDir.open(folder, finished=False).path for folder in run_dirs]
    output = output or (folders[0] / "curves.png" if len(folders) == 1 else Path("curves.png"))
    click.echo(f"wrote {plot_runs(folders, output)}")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@track_option
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
def track(run_dir, track, as_json):
    """Send RUN_DIR to TensorBoard and MLflow, as its tracking: section (and --track) say:
    what a failed tracker missed, or a run trained before tracking was set. Sending twice
    writes no epoch twice."""
    from cbrun.after.tracked import track_run

    sent = track_run(run_dir, track, say=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(sent, indent=2))
        return
    said = [f"{sent['run_dir']}: {sent['epochs']} epoch(s)"]
    if "tensorboard" in sent:
        said.append(f"tensorboard {Path(sent['run_dir']) / sent['tensorboard']}")
    if "mlflow" in sent:
        mlflow = sent["mlflow"]
        state = "sent" if mlflow["sent"] else "NOT sent"
        said.append(f"mlflow run {mlflow['run_id']} in {mlflow['uri']} ({state})")
    click.echo("; ".join(said))
    sys.exit(0 if sent.get("mlflow", {}).get("sent", True) else 1)
