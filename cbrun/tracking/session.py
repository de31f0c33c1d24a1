"""The trackers of one run, from its first epoch to its end, resumed or sent later.

`RUN/tracking.json` keeps what a tracker needs to continue: the MLflow URI, experiment
and run id (written as soon as MLflow gives the id, so a run killed with -9 resumes
into the same MLflow run). A trial of a sweep (`SWEEP/trials/NAME/`) nests its MLflow
run under the sweep's, whose id is in `SWEEP/tracking.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from cbrun import __version__
from cbrun.config.tracking import TENSORBOARD_FOLDER, flat_config
from cbrun.output.rundir import atomic_write_json

TRACKING = "tracking.json"
# What a finished run sends as MLflow artifacts, those that exist.
ARTIFACTS = ("config.yaml", "summary.json", "history.csv", "curves.png", "model.keras")


def read_state(folder: Path) -> dict:
    """`tracking.json` of a run or sweep folder ({} when absent or unreadable)."""
    try:
        state = json.loads((Path(folder) / TRACKING).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def sweep_of(run_dir: Path) -> Path | None:
    """The sweep folder a trial's run folder belongs to, when that sweep is tracked."""
    parent = Path(run_dir).parent
    if parent.name == "trials" and (parent.parent / TRACKING).is_file():
        return parent.parent
    return None


def mlflow_target(spec, folder: Path, state: dict) -> tuple[str, str]:
    """(URI, experiment): as recorded, else as the config says, else the defaults."""
    from cbrun.tracking.mlflow_logger import default_uri

    recorded = state.get("mlflow") or {}
    uri = recorded.get("uri") or spec.tracking.mlflow.uri or default_uri(folder)
    experiment = recorded.get("experiment") or spec.tracking.mlflow.experiment or spec.name
    return uri, experiment


class RunTracking:
    """TensorBoard and MLflow for one run folder, as `spec.tracking` says.

    Args:
        spec: the run's config.
        run_dir: its folder.
        say: where a tracker's one-line failure goes.
        log: where what MLflow and its libraries log goes (train.log); default nowhere.
        uri: send to this MLflow store instead of the recorded one (`cbrun track --uri`).
    """

    def __init__(self, spec, run_dir: Path, say, log=None, uri: str | None = None):
        self.spec, self.run_dir, self.say = spec, Path(run_dir), say
        self.state = read_state(self.run_dir)
        if uri is not None and (self.state.get("mlflow") or {}).get("uri") != uri:
            # Another store: the recorded run id belongs to the old one.
            recorded = self.state.get("mlflow") or {}
            self.state["mlflow"] = {"uri": uri, "experiment": recorded.get("experiment")}
        self.sweep = sweep_of(self.run_dir)
        self.tensorboard = self.mlflow = None
        if spec.tracking.tensorboard:
            from cbrun.tracking.tensorboard import TensorBoardRun

            self.tensorboard = TensorBoardRun(self.run_dir / TENSORBOARD_FOLDER)
            self.state["tensorboard"] = TENSORBOARD_FOLDER
        if spec.tracking.mlflow is not None:
            from cbrun.tracking.mlflow_logger import MlflowRun

            sweep_state = read_state(self.sweep) if self.sweep else {}
            home = self.sweep.parent if self.sweep else self.run_dir.parent
            uri, experiment = mlflow_target(spec, home, self.state or sweep_state)
            run_id = (self.state.get("mlflow") or {}).get("run_id")
            self.mlflow = MlflowRun(uri, experiment, run_id, say, opened=self._opened, log=log)
            self.state["mlflow"] = {"uri": uri, "experiment": experiment, "run_id": run_id}
            self._parent = (sweep_state.get("mlflow") or {}).get("run_id")
        try:
            self._write()
        except BaseException:
            if self.tensorboard is not None:
                self.tensorboard.close()  # its event files are open already
            raise

    def _opened(self, run_id: str) -> None:
        self.state["mlflow"]["run_id"] = run_id
        self._write()

    def _write(self) -> None:
        atomic_write_json(self.run_dir / TRACKING, self.state)

    def start(self, history: list[dict]) -> None:
        """The run's parameters, then every epoch of `history` a tracker lacks."""
        flat = flat_config(self.spec.model_dump(mode="json", by_alias=True))
        if self.tensorboard is not None:
            self.tensorboard.session(flat, trial_id=self.run_dir.name)
            for row in history:
                self.tensorboard.epoch(row)
        if self.mlflow is not None:
            tags = {
                "cbrun.status": "running",
                "cbrun.version": __version__,
                "cbrun.run_dir": str(self.run_dir.resolve()),
            }
            self.mlflow.start(self.run_dir.name, flat, tags, self._parent, history)

    def epoch(self, row: dict) -> None:
        """One whole, checkpointed epoch (`epoch` counted from 0)."""
        if self.tensorboard is not None:
            self.tensorboard.epoch(row)
        if self.mlflow is not None:
            self.mlflow.epoch(row)

    def finish(self, status: str, history: list[dict], evaluate: dict | None) -> dict:
        """The end: final, best and evaluate values, status, artifacts (after
        `summary.json` is written: it is one). Returns `settle()`."""
        from cbrun.catalog.metrics import best_epochs
        from cbrun.tracking.tensorboard import result_values

        results = result_values(history, best_epochs(history), evaluate)
        if self.tensorboard is not None:
            self.tensorboard.results(results, step=len(history))
        if self.mlflow is not None:
            artifacts = [self.run_dir / name for name in ARTIFACTS]
            self.mlflow.finish(status, results, {"cbrun.status": status}, artifacts)
        return self.settle()

    def settle(self) -> dict:
        """What `summary.json` records under `tracking`, once the jobs sent so far are done
        (the MLflow run's id exists)."""
        if self.mlflow is not None:
            self.mlflow.wait()
        return json.loads(json.dumps(self.state))

    @property
    def missed(self) -> bool:
        """Whether a tracker failed: `cbrun track RUN_DIR` sends the rest."""
        return self.mlflow is not None and self.mlflow.failed is not None


def tracking_callback(tracking: RunTracking, recorder):
    """A Keras callback, placed after cbrun's recorder, that sends each epoch the
    recorder kept (and checkpointed): a part-epoch or NaN epoch is never sent."""
    from cbrun.backend import load_keras

    keras = load_keras()

    class SendEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if recorder.recorded(epoch):
                tracking.epoch(recorder.history[-1])

    return SendEpochs()
