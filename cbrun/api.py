"""cbrun from Python: the same runs as the command line, as calls that return or raise.

The CLI is built on these calls. Nothing here exits the process or leaves a
signal handler behind; a mistake is an exception (`cbrun.ConfigError` carries
the same one-line `file:line:col` messages the CLI prints, a `dict` config is
placed as `<dict>`). Each `train` starts from a cleared Keras session, so two
calls in one process give what two command-line runs give.

Example:

```python
import cbrun

run = cbrun.train("configs/early_stop.yaml", ["fit.epochs=3"], runs_dir="runs")
print(run.status, run.history[-1]["loss"], run.evaluate)
model = run.load_model()
```
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from cbrun.catalog.limits import MAX_PREDICT, MAX_STEPS
from cbrun.config.tracking import with_tracking
from cbrun.errors import UsageError


@dataclass(frozen=True)
class Run:
    """A run folder, read when asked (it may still be written by another process).

    Args:
        run_dir: the folder.
        exit_code: what `cbrun train` would have exited with.
    """

    run_dir: Path
    exit_code: int = 0

    @property
    def summary(self):
        """`summary.json`, as a `cbrun.output.summary.Summary`."""
        from cbrun.output.rundir import RunDir

        return RunDir(self.run_dir).summary()

    @property
    def status(self) -> str:
        return self.summary.status.value

    @property
    def history(self) -> list[dict]:
        """One dict per epoch: `epoch`, `learning_rate` and every metric."""
        from cbrun.after.runs import read_history

        return read_history(self.run_dir)

    @property
    def evaluate(self) -> dict | None:
        """The test-split results of the run's own evaluation (None if it did not run)."""
        return self.summary.evaluate

    def load_model(self):
        """The trained `keras.Model` (safe mode)."""
        from cbrun.after.inference import load_model
        from cbrun.output.rundir import MODEL

        return load_model(self.run_dir / MODEL)


def load_config(config: str | Path | dict, overrides=(), *, allow_plugins=(), resuming=False):
    """A validated `RunSpec` from a YAML file or a dict, with `--set`-style overrides
    (plugins checked against `plugins:` and `allow_plugins`); `resuming`: the config of a
    run resumed from its own checkpoint (its `model.init_from` is not read again).

    Raises:
        ConfigError: every problem, one line each.
    """
    from cbrun.config.loading import load_config as load_file
    from cbrun.config.loading import validate
    from cbrun.config.source import load_data

    if isinstance(config, dict):
        doc = load_data(copy.deepcopy(config), _overrides(overrides))
        return validate(doc, default_name="run", allow_plugins=allow_plugins, resuming=resuming)
    return load_file(_path(config, "config"), _overrides(overrides), allow_plugins, resuming)


def _sink(quiet: bool, console=None):
    from rich.console import Console

    from cbrun.output.logsink import LogSink

    return LogSink(console or Console(highlight=False), quiet=quiet)


def train(
    config: str | Path | dict | None,
    overrides=(),
    *,
    run_dir: str | Path | None = None,
    runs_dir: str | Path | None = None,
    name: str | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    allow_plugins=(),
    log_every: int | None = None,
    verbose: bool = False,
    console=None,
    extra_callbacks=(),
    track=(),
) -> Run:
    """Train, evaluate and write a run folder, as `cbrun train` does.

    Args:
        config: a YAML file or a dict; None with `resume` (the run's own config).
        overrides: `KEY=VALUE` strings, as `--set` takes them.
        run_dir: the exact new run folder; or `runs_dir`, its parent (`output.runs_dir`).
        name: the run's name (the folder is NAME-YYYYmmdd-HHMMSS).
        resume: an unfinished run folder to continue.
        quiet: print only the final summary.
        allow_plugins: plugin modules allowed beyond the config's `plugins:`.
        console: a `rich.console.Console` to print to. Defaults to a new one.
        extra_callbacks: Keras callbacks to pass to `fit` besides the config's.
        track: "tensorboard" and/or "mlflow" on besides `tracking:`, as `--track`.

    Returns:
        The `Run`; an interrupted run is returned too (`status` says so).

    Raises:
        ConfigError, UsageError: a mistake in the config or the call (nothing written).
        CbrunError: a failure during the run (`NonFiniteLossError` for a NaN loss).
    """
    _check_call(run_dir, runs_dir, name, resume, config, log_every)
    overrides = [*_overrides(overrides), *([f"name={name}"] if name else [])]
    if resume is not None:
        from cbrun.output.rundir import CONFIG, RunDir

        RunDir.open(_path(resume, "resume"), finished=False)  # missing or foreign: UsageError
        config = config or Path(resume) / CONFIG
    loaded = load_config(config, overrides, allow_plugins=allow_plugins, resuming=bool(resume))
    spec = with_tracking(loaded, track)
    _refuse_unsupervised_workers(spec)
    where = Path(config).resolve().parent if not isinstance(config, dict) else Path.cwd()
    return _train_spec(
        spec,
        _sink(quiet, console),
        runs_dir=Path(runs_dir) if runs_dir else None,
        run_dir=Path(run_dir) if run_dir else None,
        resume=Path(resume) if resume else None,
        allow_plugins=tuple(allow_plugins),
        search_paths=[where, Path.cwd()],
        log_every=log_every,
        verbose=verbose,
        extra_callbacks=tuple(extra_callbacks),
    )


def _check_call(run_dir, runs_dir, name, resume, config, log_every=None) -> None:
    _count(log_every, "log_every", MAX_STEPS)
    if run_dir and runs_dir:
        raise UsageError("give run_dir or runs_dir, not both")
    if resume and (run_dir or runs_dir or name):
        raise UsageError("a resumed run continues in its own folder, under its own name")
    if config is None and resume is None:
        raise UsageError("give a config, or resume=RUN_DIR")


def _path(value, what: str) -> Path:
    """`value` as a Path, or a UsageError naming the argument (never a TypeError)."""
    if isinstance(value, (str, Path)) and str(value):
        return Path(value)
    raise UsageError(f"{what}: expected a path (a str or pathlib.Path), got {value!r}")


def _overrides(overrides) -> list[str]:
    """`--set`-style overrides as a list of strings; one string alone is refused (it would
    be read letter by letter)."""
    if isinstance(overrides, str):
        raise UsageError(f"overrides: give a list of KEY=VALUE strings, e.g. [{overrides!r}]")
    try:
        items = list(overrides or ())
    except TypeError:
        message = f"overrides: expected a list of KEY=VALUE strings, got {overrides!r}"
        raise UsageError(message) from None
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise UsageError(f"overrides: each is a KEY=VALUE string, got {bad[0]!r}")
    return items


def _count(value, what: str, most: int) -> int | None:
    """A whole number in 1..most, as the command line's option takes it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise UsageError(f"{what}: expected a whole number from 1 to {most}, got {value!r}")
    return value


def _refuse_unsupervised_workers(spec) -> None:
    if spec.distribute.strategy == "multi_worker_mirrored" and not _in_supervised_worker():
        raise UsageError(
            "multi_worker_mirrored runs one process per worker: start each with `cbrun train`"
        )


def _in_supervised_worker() -> bool:
    import os

    from cbrun.run.multi_worker import CHILD_ENV

    return CHILD_ENV in os.environ


def _train_spec(spec, sink, **options) -> Run:
    """`runner.train`, its result as a `Run`."""
    from cbrun.run.runner import train as run_training

    result = run_training(spec, sink=sink, **options)
    return Run(result.run_dir, result.exit_code)


def evaluate(run_dir: str | Path, *, quiet: bool = True, allow_plugins=()) -> dict:
    """Evaluate a run's model on the test split (writes `evaluate.json`), as `cbrun evaluate`."""
    from cbrun.after.inference import evaluate as run_evaluate
    from cbrun.after.inference import open_run
    from cbrun.output.rundir import MODEL

    run, spec = open_run(_path(run_dir, "run_dir"))
    return run_evaluate(
        spec,
        run.file(MODEL),
        sink=_sink(quiet),
        run=run,
        allow_plugins=allow_plugins,
        search_paths=[Path.cwd()],
    )


def predict(run_dir: str | Path, x=None, *, count: int = 8, quiet: bool = True):
    """Predictions of a run's model: for `x` (an array shaped like its inputs), else for
    the first `count` test images with their labels, as `cbrun predict --json` gives."""
    from cbrun.after.inference import load_model, open_run
    from cbrun.after.inference import predict as run_predict
    from cbrun.output.rundir import MODEL

    count = _count(count, "count", MAX_PREDICT)
    run, spec = open_run(_path(run_dir, "run_dir"))
    if x is None:
        return run_predict(run, spec, sink=_sink(quiet), count=count, search_paths=[Path.cwd()])[0]
    return load_model(run.file(MODEL)).predict(x, verbose=0)


def list_callbacks() -> list[dict]:
    """Every callback a config may name, described as `cbrun list-callbacks --json` does."""
    from cbrun.catalog.callbacks import callback_registry

    return [entry.to_dict() for entry in callback_registry().entries()]
