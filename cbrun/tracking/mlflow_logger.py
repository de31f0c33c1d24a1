"""One MLflow run per cbrun run, sent from a background thread on `MlflowClient`.

Why a thread: a tracking server that is slow or gone must never slow or fail the
training. Each job (start, an epoch, the end) is tried three times, then the failure is
said once and the rest skipped; `cbrun track RUN_DIR` or `--resume` sends it later.
Why it is safe to send again: an epoch goes only where the MLflow run holds no step of
that number yet, so a resumed run (or `cbrun track`) fills gaps and never duplicates.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from pathlib import Path

ATTEMPTS = 3
FINISH_WAIT = 60.0  # seconds the end of a run waits for the sender, then says what is left
# A tracking server is asked for its /health first: one that does not answer within this
# fails the tracker at once (no retries), so a stalled server costs a run nothing.
HEALTH_TIMEOUT = 2.0
_LOGGERS = ("mlflow", "alembic", "sqlalchemy", "urllib3", "databricks")
# MLflow run statuses for cbrun's
STATUSES = {
    "completed": "FINISHED",
    "stopped_early": "FINISHED",
    "interrupted": "KILLED",
    "terminated": "KILLED",
}


class _ToLog(logging.Handler):
    """MLflow's, SQLAlchemy's and urllib3's records, to the run's train.log only."""

    def __init__(self, log):
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record):
        try:
            self.log(f"{record.name}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - a log line must never fail a run
            pass


def quiet_mlflow(log=None) -> None:
    """Telemetry off unless the user turned it on; bounded HTTP retries; no INFO lines;
    what MLflow and its libraries log goes to `log` (train.log), never to the console."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow sets its loggers up on import, at INFO ("Creating initial MLflow database
    # tables..."): its own variable is the one it reads then.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.propagate = False  # MLflow's own console handler is replaced too
        logger.handlers = [_ToLog(log)] if log is not None else [logging.NullHandler()]


# Health checks started early (`check_server_early`), by URI: a thread and its answer.
_EARLY: dict[str, tuple[threading.Thread, list]] = {}


def check_server_early(uri: str | None) -> None:
    """Ask the server at `uri` for its health now, in a thread, so that the answer (or the
    `HEALTH_TIMEOUT` a silent server costs) overlaps TensorFlow's import instead of the
    training; `server_problem` takes the answer later."""
    if not uri or not uri.startswith(("http://", "https://")) or uri in _EARLY:
        return
    answer: list = []
    thread = threading.Thread(
        target=lambda: answer.append(_ask_health(uri, HEALTH_TIMEOUT)),
        name="cbrun-mlflow-health",
        daemon=True,
    )
    _EARLY[uri] = (thread, answer)
    thread.start()


def server_problem(uri: str, timeout: float = HEALTH_TIMEOUT) -> str | None:
    """Why the tracking server at `uri` cannot be used now (no answer, refused), or None;
    only for http(s) URIs, whose servers answer `/health`. An early check's answer is
    taken (once) when there is one."""
    if not uri.startswith(("http://", "https://")):
        return None
    early = _EARLY.pop(uri, None)
    if early is not None:
        thread, answer = early
        thread.join(timeout + 1.0)
        if answer:
            return answer[0]
    return _ask_health(uri, timeout)


def _ask_health(uri: str, timeout: float) -> str | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as answer:
            answer.read(64)
    except urllib.error.HTTPError:
        return None  # it answered: a proxy or an older server without /health
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return f"no answer within {timeout:g} s"
        return str(reason) or type(error).__name__
    return None


def default_uri(folder: Path) -> str:
    """SQLite `mlflow.db` in `folder` (the runs folder): a real database, no server."""
    return f"sqlite:///{(Path(folder) / 'mlflow.db').resolve()}"


def local_store(uri: str) -> tuple[Path, bool] | None:
    """`(path, is_file)` of a store on this machine (a SQLite file, a file store's
    folder), which a run must be able to write; None for a server or a database."""
    from urllib.parse import unquote, urlsplit

    if uri.startswith("sqlite:///"):
        return Path(unquote(uri.removeprefix("sqlite:///")).split("?")[0]), True
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path)), False
    if len(parts.scheme) <= 1:  # no scheme (or a drive letter): a folder
        return Path(uri), False
    return None


def artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps artifacts: `mlartifacts/` beside a SQLite store (never
    `./mlruns` in the working folder); a server or database decides for itself (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///"))
    return (database.parent / "mlartifacts").resolve().as_uri()


class _Unreachable(Exception):
    """The server did not answer its health check: failed at once, never retried."""


def _numbers(row: dict) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in row.items()
        if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


class MlflowRun:
    """The MLflow run of one cbrun run.

    Args:
        uri: the tracking URI.
        experiment: the experiment's name (created when new, its artifacts beside a
            SQLite file).
        run_id: the MLflow run to continue (a resumed run), or None for a new one.
        say: where the one line of a failure goes.
        opened: called with the new run's id as soon as MLflow gives it.
    """

    def __init__(self, uri: str, experiment: str, run_id: str | None, say, opened=None, log=None):
        quiet_mlflow(log)
        self.uri, self.experiment, self.run_id, self.say = uri, experiment, run_id, say
        self.opened = opened  # called with the run's id once it exists (kept for resume)
        self.failed: str | None = None
        self.sent_epochs = 0
        self._last_step: dict[str, int] = {}
        self._client = None
        self._ended_before = None  # the MLflow run's info before this process continued it
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="cbrun-mlflow", daemon=True)

    # The jobs, run in the thread (or directly by `cbrun track`).

    def _open(self, run_name: str, params: dict, tags: dict, parent: str | None) -> None:
        problem = server_problem(self.uri)  # before MLflow's import: a dead server costs none
        if problem is not None:
            raise _Unreachable(problem)
        from mlflow.entities import Param, RunTag
        from mlflow.tracking import MlflowClient

        self._client = client = MlflowClient(tracking_uri=self.uri)
        if self.run_id is None:
            found = client.get_experiment_by_name(self.experiment)
            if found is not None:
                experiment_id = found.experiment_id
                # Killed between MLflow making the run and cbrun keeping its id: that one.
                self.run_id = self._run_of(experiment_id, tags["cbrun.run_dir"])
            else:
                experiment_id = client.create_experiment(
                    self.experiment, artifact_location=artifact_location(self.uri)
                )
        if self.run_id is None:
            all_tags = {**tags, **({"mlflow.parentRunId": parent} if parent else {})}
            self.run_id = client.create_run(
                experiment_id, run_name=run_name, tags=all_tags
            ).info.run_id
            if self.opened is not None:
                self.opened(self.run_id)  # before anything else can fail: resume finds it
            held = {}
        else:
            self._ended_before = client.get_run(self.run_id).info  # its status and end time
            client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
            client.update_run(self.run_id, status="RUNNING")
            held = client.get_run(self.run_id).data.params
        # A param once logged keeps its value in MLflow (a continued run's larger
        # fit.epochs is in its config.yaml artifact): only the missing ones are sent.
        items = [Param(k, str(v)[:6000]) for k, v in params.items() if k not in held]
        for start in range(0, len(items), 100):  # MLflow takes 100 params a batch
            client.log_batch(self.run_id, params=items[start : start + 100])

    def _run_of(self, experiment_id: str, run_dir: str) -> str | None:
        quoted = run_dir.replace("'", "\\'")
        found = self._client.search_runs(
            [experiment_id], filter_string=f"tags.`cbrun.run_dir` = '{quoted}'", max_results=1
        )
        if found and self.opened is not None:
            self.opened(found[0].info.run_id)
        return found[0].info.run_id if found else None

    def _epochs(self, rows: list[dict]) -> None:
        from mlflow.entities import Metric

        metrics = []
        for row in rows:
            step = int(row["epoch"]) + 1
            for key, value in _numbers(row).items():
                if key not in self._last_step:
                    history = self._client.get_metric_history(self.run_id, key)
                    self._last_step[key] = max((m.step for m in history), default=0)
                if step > self._last_step[key]:
                    metrics.append(Metric(key, value, int(time.time() * 1000), step))
                    self._last_step[key] = step
        for start in range(0, len(metrics), 1000):
            self._client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
        self.sent_epochs += len(rows) if metrics else 0

    def _finish(self, status: str, results: dict, tags: dict, artifacts: list[Path]) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        held = self._client.get_run(self.run_id)
        # Sent again (`cbrun track` twice, a resumed run's end): only what changed, so the
        # store holds each value once and the run's end time stays the first end's.
        final = [
            Metric(key, float(v), now, 0)
            for key, v in results.items()
            if held.data.metrics.get(key) != float(v)
        ]
        changed = [RunTag(k, str(v)) for k, v in tags.items() if held.data.tags.get(k) != str(v)]
        if final or changed:
            self._client.log_batch(self.run_id, metrics=final, tags=changed)
        for path in artifacts:
            if path.is_file():
                self._client.log_artifact(self.run_id, str(path))
        ended = STATUSES.get(status, "FAILED")
        before = self._ended_before
        # Ended as before (sent again by `cbrun track`): its first end time is kept.
        same = before is not None and before.status == ended and before.end_time
        self._client.set_terminated(
            self.run_id, status=ended, end_time=before.end_time if same else None
        )

    # Running them.

    def _do(self, job) -> None:
        """One job, tried `ATTEMPTS` times; after that the failure is said once."""
        if self.failed:
            return
        method, args = job
        for attempt in range(ATTEMPTS):
            try:
                method(*args)
                return
            except Exception as error:  # noqa: BLE001 - any failure of a tracker is the same
                if attempt == ATTEMPTS - 1 or isinstance(error, _Unreachable):
                    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                    self.failed = f"mlflow: {self.uri}: {reason}"
                    self.say(self.failed)
                    return
                time.sleep(0.5 * 2**attempt)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._do(job)
            self._jobs.task_done()

    def wait(self, seconds: float = FINISH_WAIT) -> None:
        """Wait until every job sent so far is done (at most `seconds`)."""
        deadline = time.monotonic() + seconds
        while self._jobs.unfinished_tasks and time.monotonic() < deadline:
            if not self._thread.is_alive():
                return
            time.sleep(0.05)

    def start(self, run_name: str, params: dict, tags: dict, parent: str | None, history):
        """Open (or continue) the run in the thread, then send the epochs it lacks."""
        self._thread.start()
        self._jobs.put((self._open, (run_name, params, tags, parent)))
        if history:
            self._jobs.put((self._epochs, (list(history),)))

    def epoch(self, row: dict) -> None:
        self._jobs.put((self._epochs, ([row],)))

    def finish(self, status: str, results: dict, tags: dict, artifacts: list[Path]) -> bool:
        """Send the end and wait for the thread (at most `FINISH_WAIT`); whether all went."""
        self._jobs.put((self._finish, (status, results, tags, artifacts)))
        self._jobs.put(None)
        self._thread.join(FINISH_WAIT)
        if self._thread.is_alive():
            self.failed = f"mlflow: {self.uri}: still sending after {FINISH_WAIT:.0f} s"
            self.say(self.failed)
        return self.failed is None
