"""What is done with finished runs: `runs`, `plot` and `track`. Thin, over `cbrun/after/`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cbrun.cli import modes
from cbrun.cli.options import make_console, track_option, verbose_option


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

    modes.refuse_conflicts()
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
@click.option(
    "--uri",
    metavar="URI",
    help="Send the run to this MLflow store (instead of the one it recorded); MLflow is on.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
def track(run_dir, track, uri, as_json):
    """Send RUN_DIR to TensorBoard and MLflow, as its tracking: section (and --track) say:
    what a failed tracker missed, or a run trained before tracking was set. Sending twice
    writes no epoch twice."""
    from cbrun.after.tracked import track_run

    sent = track_run(run_dir, track, say=lambda line: click.echo(line, err=True), uri=uri)
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


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "formats",
    multiple=True,
    required=True,
    type=click.Choice(["saved_model", "litert", "onnx"]),
    help="What to export to (repeatable): SavedModel, LiteRT (cbrun[litert]), ONNX (cbrun[onnx]).",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="The folder (default: RUN_DIR/export)."
)
@click.option(
    "--backend",
    type=click.Choice(["tensorflow", "jax"]),
    help="Load the model on this backend (default: the run's own).",
)
@click.option("--json", "as_json", is_flag=True, help="Print export.json.")
@verbose_option
def export(run_dir, formats, output, backend, as_json, verbose):
    """Export RUN_DIR's model with Keras's model.export, load each export back in its own
    runtime and compare it with the Keras model on 256 test images (export.json).
    Exit 1 when an export's outputs differ by more than the tolerance."""
    from cbrun.after import export as exporting

    # Its checks (exporting.check_export) come first, before Keras loads.
    report = exporting.export_run(run_dir, formats, output, lambda line: None, backend)
    if as_json:
        click.echo(exporting.report_json(report))
    else:
        from rich.table import Table

        table = Table(title=f"export of {Path(report['run_dir']).name}", box=None)
        for column in ("format", "max |difference|", "argmax agrees", "size", "verified"):
            table.add_column(column, justify="left" if column == "format" else "right")
        for name, result in report["formats"].items():
            table.add_row(
                name,
                f"{result['max_abs_difference']:.2e}",
                f"{result['argmax_agreement']:.2%}",
                f"{result['bytes'] / 1024:,.0f} KiB",
                "yes" if result["verified"] else "NO",
            )
        console = make_console()
        console.print(table)
        console.print(f"tolerance {report['tolerance']:g}; written to {_folder_of(report)}")
    failed = exporting.failed_formats(report)
    if failed:
        click.echo(f"Error: {', '.join(failed)}: outputs differ beyond the tolerance", err=True)
        sys.exit(1)


def _folder_of(report: dict) -> Path:
    first = next(iter(report["formats"].values()))
    return Path(first["path"]).parent / "export.json"


@click.command()
@click.argument("a", metavar="A", type=click.Path(path_type=Path))
@click.argument("b", metavar="B", type=click.Path(path_type=Path))
@click.option("--all", "everything", is_flag=True, help="Every key, not only what differs.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--md", "as_markdown", is_flag=True, help="Print Markdown tables (for CI).")
def diff(a, b, everything, as_json, as_markdown):
    """Compare two runs (or a run and a config such as a sweep's best.yaml): the config
    keys that differ, with their --set origins, the metrics with the change, then status,
    epochs, duration and versions."""
    from cbrun.after import diff as diffing

    modes.refuse_conflicts()
    result = diffing.diff(a, b, everything=everything)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif as_markdown:
        click.echo(diffing.markdown(result), nl=False)
    else:
        console = make_console()
        for table in diffing.tables(result):
            console.print(table)
            console.print()
