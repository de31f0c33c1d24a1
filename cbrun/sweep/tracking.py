"""A tracked sweep: TensorBoard's HParams experiment and MLflow's parent run.

At a new sweep's start the experiment (the space as HParam domains, the objective as
the metric) is written at the sweep folder's root and the MLflow parent run is made;
`SWEEP/tracking.json` records it, and each trial's run (`SWEEP/trials/NAME/`) nests
under it (cbrun/tracking/session.py). A trial's outcome is tagged on its MLflow run,
and the sweep's end closes the parent with the best objective and `sweep.json`.
"""

from __future__ import annotations

import time
from pathlib import Path

from cbrun import __version__
from cbrun.output.rundir import atomic_write_json
from cbrun.tracking.session import TRACKING, mlflow_target, read_state


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    from cbrun.tracking.mlflow_logger import quiet_mlflow

    quiet_mlflow()
    return MlflowClient(tracking_uri=uri)


def _parent_run(folder: Path, spec) -> dict:
    from cbrun.tracking.mlflow_logger import artifact_location, server_problem

    uri, experiment = mlflow_target(spec, folder.parent, {})
    problem = server_problem(uri)  # a server that does not answer: at once, not retried
    if problem is not None:
        raise ConnectionError(f"{uri}: {problem}")
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        experiment_id = client.create_experiment(
            experiment, artifact_location=artifact_location(uri)
        )
    else:
        experiment_id = found.experiment_id
    sweep = spec.sweep
    tags = {
        "cbrun.sweep": str(folder.resolve()),
        "cbrun.version": __version__,
        "cbrun.objective": f"{sweep.objective.mode} {sweep.objective.monitor}",
    }
    run_id = client.create_run(experiment_id, run_name=folder.name, tags=tags).info.run_id
    client.log_param(run_id, "sweep.trials", sweep.trials)
    client.log_param(run_id, "sweep.sampler", sweep.sampler)
    return {"uri": uri, "experiment": experiment, "run_id": run_id}


def start_tracking(folder: Path, spec, say) -> None:
    """A new sweep's HParams experiment and MLflow parent run, as `tracking:` says."""
    if not spec.tracking.active:
        return
    from cbrun.sweep.space import space_summary

    state = {}
    if spec.tracking.tensorboard:
        from cbrun.tracking.tensorboard import write_experiment

        write_experiment(folder, space_summary(spec.sweep.space), spec.sweep.objective.monitor)
        state["tensorboard"] = "."
    if spec.tracking.mlflow is not None:
        try:
            state["mlflow"] = _parent_run(folder, spec)
        except Exception as error:  # noqa: BLE001 - the sweep goes on; trials track alone
            say(f"mlflow: {str(error).splitlines()[0]}; the trials are tracked without a parent")
            state["mlflow"] = {}
    atomic_write_json(folder / TRACKING, state)


def _mlflow_call(folder: Path, say, call) -> None:
    """`call(client, run_id)` on the MLflow run of a run or sweep folder, if it has one;
    a failure is one line (`cbrun track` sends a run again)."""
    recorded = read_state(folder).get("mlflow") or {}
    if not recorded.get("run_id"):
        return
    try:
        call(_client(recorded["uri"]), recorded["run_id"])
    except Exception as error:  # noqa: BLE001 - tracking never fails the sweep
        say(f"mlflow: {recorded['uri']}: {str(error).splitlines()[0]}")


def tag_trial(run_dir: Path, number: int, state: str, say) -> None:
    """A trial's outcome on its MLflow run: `cbrun.trial` and `cbrun.trial_state`
    (complete, pruned or failed)."""

    def tag(client, run_id):
        client.set_tag(run_id, "cbrun.trial", number)
        client.set_tag(run_id, "cbrun.trial_state", state)
        if state == "failed":
            client.set_terminated(run_id, status="FAILED")

    _mlflow_call(Path(run_dir), say, tag)


def finish_tracking(folder: Path, best: dict | None, monitor: str, say) -> None:
    """The sweep's end on its MLflow parent run: the best objective, `sweep.json` and
    `best.yaml`, status finished."""

    def close(client, run_id):
        if best is not None and best.get("objective") is not None:
            client.log_metric(run_id, f"best/{monitor}", float(best["objective"]))
            client.set_tag(run_id, "cbrun.best_trial", best["number"])
        for name in ("sweep.json", "best.yaml"):
            if (folder / name).is_file():
                client.log_artifact(run_id, str(folder / name))
        client.set_terminated(run_id, status="FINISHED", end_time=int(time.time() * 1000))

    _mlflow_call(Path(folder), say, close)
