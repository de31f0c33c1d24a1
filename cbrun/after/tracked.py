"""`cbrun track RUN_DIR`: send a run folder to its trackers, from its files alone.

For a run whose tracker failed mid-run (a server that went away), one trained before
`tracking:` was set, or one to add a tracker to (`--track`). The same per-epoch rule as
during training holds: an epoch MLflow already holds is not sent again, TensorBoard's
folder is rewritten whole from `history.csv`; so sending twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from cbrun.after.inference import open_run
from cbrun.after.runs import read_history
from cbrun.config.tracking import mlflow_uri_problem, with_tracking
from cbrun.errors import UsageError
from cbrun.filesystem import probe_file
from cbrun.output.rundir import SUMMARY
from cbrun.output.summary import RunStatus
from cbrun.run.outputs import probe_store


def track_run(run_dir: Path, track=(), say=print, uri: str | None = None) -> dict:
    """Send `run_dir` to the trackers its config names (and `track`); what was sent.

    Args:
        uri: an MLflow store to send the run to instead of the one it recorded (MLflow
            is then on, whatever the config says); `tracking.json` records it after.

    Raises:
        UsageError: no tracker named, a run still training, or not a run folder.
    """
    run, spec = open_run(Path(run_dir), finished=False)
    if uri is not None:
        problem = mlflow_uri_problem(uri) if uri.strip() else "give a store's URI"
        if problem:
            raise UsageError(f"--uri {problem}")
        track = (*track, "mlflow")
    spec = with_tracking(spec, track)
    if uri is not None:
        spec.tracking.mlflow = spec.tracking.mlflow.model_copy(update={"uri": uri})
        probe_store(spec)
    if not spec.tracking.active:
        raise UsageError(
            f"{run.path}: its config has no tracking: section; name a tracker with "
            "--track tensorboard or --track mlflow"
        )
    probe_file(run.file(SUMMARY), "RUN_DIR")  # summary.json and tracking.json are rewritten
    run.lock()  # refused while the run trains: its own trackers send as it goes
    try:
        summary = run.summary()
        if summary.status == RunStatus.RUNNING:
            raise UsageError(f"{run.path}: its run never ended; continue it with --resume")
        history = [{**row, "epoch": row["epoch"] - 1} for row in read_history(run.path)]
        _plot_curves(run.path, history)
        from cbrun.tracking.session import RunTracking

        tracking = RunTracking(spec, run.path, say, uri=uri)
        tracking.start(history)
        summary.tracking = tracking.finish(summary.status.value, history, summary.evaluate)
        run.write_json(SUMMARY, summary.to_json())
    finally:
        run.unlock()
    sent = {"run_dir": str(run.path), "epochs": len(history), **summary.tracking}
    if tracking.mlflow is not None:
        sent["mlflow"] = {**sent["mlflow"], "sent": tracking.mlflow.failed is None}
    return sent


def _plot_curves(folder: Path, history: list[dict]) -> None:
    """curves.png, which MLflow keeps with the run, when the run has none yet."""
    if history and not (folder / "curves.png").is_file():
        from cbrun.after.plotting import plot_runs

        plot_runs([folder], folder / "curves.png")
