"""`cbrun sweep`: a hyperparameter search over one config, on Optuna.

The config's `sweep:` section names the objective, the sampler, the pruner and
the space (config paths, each a `choice`, `uniform`, `log_uniform` or `int`
range); every sampled value is applied as a `--set` would be and validated the
same way, before TensorFlow loads. Each trial is a complete cbrun run folder in
`SWEEP_DIR/trials/`; the study lives in Optuna's RDB storage (a SQLite file in
the sweep folder by default), so a killed sweep resumes: finished trials stay
finished, the interrupted one continues from its checkpoint (cbrun's exact
resume), and the sweep ends with exactly the asked number of finished trials.

```
runs/<name>-sweep-<YYYYmmdd-HHMMSS>/
  study.db     the Optuna study (SQLite)
  sweep.json   the study, the best trial (params, objective, run folder), every trial
  best.yaml    the best trial's resolved config, ready for `cbrun train`
  trials/trial-0000/ ...
```
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import yaml

from cbrun.config import RunSpec, load_config
from cbrun.errors import CbrunError, ConfigError, Problem, UsageError
from cbrun.rundir import CONFIG, atomic_write_json, atomic_write_text

STORAGE = "study.db"
SWEEP = "sweep.json"
BEST = "best.yaml"
TRIALS = "trials"


def overrides_for(params: dict) -> list[str]:
    """Sampled values as `--set` overrides (YAML flow text, as on a command line)."""
    return [
        f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"
        for key, value in params.items()
    ]


def _samples(dimension) -> list:
    """The values a dimension is checked with before any trial: every choice, the bounds."""
    return list(getattr(dimension, dimension.kind))


def check_sweep(config: Path, spec: RunSpec) -> None:
    """Every space key is a config path and every value it can take validates as a `--set`
    would; the objective is a key the run logs. One line per problem, as for any config."""
    from cbrun.config_rules import logged_keys

    if spec.sweep is None:
        raise UsageError(f"{config}: no sweep: section (objective, space, ...) to run")
    problems = []
    for key, dimension in spec.sweep.space.items():
        for value in _samples(dimension):
            try:
                load_config(config, overrides_for({key: value}))
            except ConfigError as error:
                problems.extend(p for p in error.problems if p not in problems)
                break
    keys = logged_keys(spec)
    monitor = spec.sweep.objective.monitor
    if monitor not in keys:
        from cbrun.registry import did_you_mean

        message = f"the run never logs '{monitor}'; it logs {', '.join(sorted(keys))}"
        problems.append(
            Problem(str(config), "sweep.objective.monitor", message + did_you_mean(monitor, keys))
        )
    if problems:
        raise ConfigError(problems)


def _sampler(spec: RunSpec, asked: int = 0):
    """The sampler; seeded with `seed` plus the trials already asked, so that a resumed
    sweep does not draw the first trials' values again."""
    import optuna

    sweep = spec.sweep
    seed = sweep.seed + asked
    if sweep.sampler == "grid":
        space = {key: list(d.choice) for key, d in sweep.space.items() if d.kind == "choice"}
        if len(space) != len(sweep.space):
            raise UsageError("sampler: grid searches choice dimensions only")
        return optuna.samplers.GridSampler(space, seed=seed)
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(spec: RunSpec):
    import optuna

    pruner = spec.sweep.pruner
    if pruner.type == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=pruner.warmup_epochs)
    if pruner.type == "threshold":
        return optuna.pruners.ThresholdPruner(
            lower=pruner.lower, upper=pruner.upper, n_warmup_steps=pruner.warmup_epochs
        )
    return optuna.pruners.NopPruner()


def _choices(dimension) -> list:
    """What Optuna picks from: the values, or their indices when a value is a list or a
    mapping (Optuna's categorical values are scalars)."""
    values = list(dimension.choice)
    plain = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
    return values if plain else list(range(len(values)))


def _suggest(trial, key: str, dimension):
    kind, values = dimension.kind, getattr(dimension, dimension.kind)
    if kind == "choice":
        picked = trial.suggest_categorical(key, _choices(dimension))
        return picked if _choices(dimension) == list(values) else values[picked]
    if kind == "integer":
        return trial.suggest_int(key, values[0], values[1])
    return trial.suggest_float(key, values[0], values[1], log=kind == "log_uniform")


def _reporter(trial, monitor: str):
    """A Keras callback: the objective to Optuna after every epoch; a pruned trial stops
    at the end of that epoch (its run folder stays a valid, stopped run)."""
    import keras

    class ReportObjective(keras.callbacks.Callback):
        pruned = False

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None:
                return
            trial.report(float(value), epoch)
            if trial.should_prune():
                self.pruned = True
                self.model.stop_training = True

    return ReportObjective()


def _silent_console():
    """Trials print nothing: their lines go to their own train.log; the sweep says one
    line per trial."""
    from rich.console import Console

    return Console(quiet=True)


def _objective_of(history: list[dict], monitor: str, mode: str) -> float | None:
    values = [row[monitor] for row in history if isinstance(row.get(monitor), float)]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


class Sweep:
    """One sweep folder and its Optuna study.

    Args:
        folder: the sweep folder (holding `config.yaml`, the sweep's resolved config).
        storage: an Optuna RDB storage URL. Defaults to SQLite in the folder.
        study: the study name. Defaults to the config's name.
        sink: where lines go.
    """

    def __init__(self, folder: Path, *, storage: str | None, study: str | None, sink):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.folder, self.sink = Path(folder), sink
        self.target = 0  # the trials to finish, set by `start` or `reopen`
        self.config = self.folder / CONFIG
        self.spec = load_config(self.config)
        self.storage = storage or f"sqlite:///{self.folder / STORAGE}"
        self.name = study or self.spec.name
        self.study = optuna.create_study(
            storage=self.storage,
            study_name=self.name,
            direction="maximize" if self.spec.sweep.objective.mode == "max" else "minimize",
            sampler=_sampler(self.spec),
            pruner=_pruner(self.spec),
            load_if_exists=True,
        )
        self.study.sampler = _sampler(self.spec, len(self.study.get_trials(deepcopy=False)))

    def finished(self) -> int:
        from optuna.trial import TrialState

        done = (TrialState.COMPLETE, TrialState.PRUNED)
        return len(self.study.get_trials(deepcopy=False, states=done))

    def run(self) -> int:
        """Run trials until `target` are finished (complete or pruned); the exit code."""
        from optuna.trial import Trial, TrialState

        from cbrun.tensorflow_loader import import_tensorflow

        import_tensorflow()  # quietly, before a trial's callback imports Keras
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.user_attrs.get("run_dir"):  # left running by a killed sweep: continue it
                code = self._trial(Trial(self.study, frozen._trial_id), frozen)
                if code:
                    return code
        while self.finished() < self.target:
            code = self._trial(self.study.ask())
            if code:
                return code
        self.write()
        return 0

    def _trial(self, trial, frozen=None) -> int:
        from optuna.trial import TrialState

        from cbrun import api

        sweep = self.spec.sweep
        if frozen is None:
            values = {key: _suggest(trial, key, d) for key, d in sweep.space.items()}
            run_dir = self.folder / TRIALS / f"trial-{trial.number:04d}"
            trial.set_user_attr("values", values)
            trial.set_user_attr("run_dir", str(run_dir))
        else:
            values, run_dir = frozen.user_attrs["values"], Path(frozen.user_attrs["run_dir"])
        self.sink.line(f"trial {trial.number}: {json.dumps(values)}", always=True)
        reporter = _reporter(trial, sweep.objective.monitor)
        resume = run_dir if (run_dir / CONFIG).is_file() else None
        if resume is None and run_dir.exists():
            shutil.rmtree(run_dir)  # killed before its run began: nothing to keep
        try:
            run = api.train(
                None if resume else self.config,
                [] if resume else overrides_for(values),
                run_dir=None if resume else run_dir,
                resume=resume,
                quiet=True,
                extra_callbacks=[reporter],
                console=_silent_console(),
            )
        except CbrunError:
            self.study.tell(trial, state=TrialState.FAIL)
            self.write()
            raise
        if run.status in ("interrupted", "terminated"):
            self.write()
            self.sink.line(
                f"{run.status}: continue with: cbrun sweep --resume {self.folder}", always=True
            )
            return run.exit_code
        if reporter.pruned:
            self.study.tell(trial, state=TrialState.PRUNED)
            said = f"pruned after {len(run.history)} epoch(s)"
        else:
            value = _objective_of(run.history, sweep.objective.monitor, sweep.objective.mode)
            self.study.tell(trial, value)
            said = f"{sweep.objective.monitor} {value:.4f}" if value is not None else "no value"
        self.sink.line(f"trial {trial.number}: {said}  ({run.run_dir})", always=True)
        self.write()
        return 0

    def write(self) -> None:
        """`sweep.json` (every trial), and `best.yaml` once a trial completed."""
        from optuna.trial import TrialState

        trials = [
            {
                "number": t.number,
                "status": t.state.name.lower(),
                "params": t.user_attrs.get("values"),
                "objective": t.value,
                "epochs": len(t.intermediate_values),
                "run_dir": t.user_attrs.get("run_dir"),
            }
            for t in self.study.get_trials(deepcopy=False)
        ]
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = None
        if complete:
            top = self.study.best_trial
            best = {
                "number": top.number,
                "params": top.user_attrs.get("values"),
                "objective": top.value,
                "run_dir": top.user_attrs.get("run_dir"),
            }
            best_config = yaml.safe_load((Path(best["run_dir"]) / CONFIG).read_text())
            best_config.pop("sweep", None)
            atomic_write_text(self.folder / BEST, yaml.safe_dump(best_config, sort_keys=False))
        atomic_write_json(
            self.folder / SWEEP,
            {
                "study": self.name,
                "storage": self.storage,
                "objective": self.spec.sweep.objective.model_dump(),
                "trials_asked": self.target,
                "best": best,
                "trials": trials,
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )


def start(
    config: Path, overrides=(), *, runs_dir=None, storage=None, study=None, trials=None, sink
) -> Sweep:
    """A new sweep folder for `config` (checked first)."""
    from cbrun.rundir import RunDir

    spec = load_config(config, list(overrides))
    check_sweep(Path(config), spec)
    folder = RunDir.create(Path(runs_dir or spec.output.runs_dir), f"{spec.name}-sweep").path
    try:
        from cbrun.resume import absolute_paths, self_contained

        recorded = self_contained(
            absolute_paths(spec), (), [Path(config).resolve().parent, Path.cwd()]
        )
        atomic_write_text(folder / CONFIG, recorded.to_yaml())
        sweep = Sweep(folder, storage=storage, study=study, sink=sink)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    sweep.target = trials or spec.sweep.trials
    sweep.write()
    sink.line(f"sweep: {folder}  (storage {sweep.storage}, study {sweep.name})", always=True)
    return sweep


def reopen(folder: Path, *, trials=None, sink) -> Sweep:
    """A sweep folder to continue, with the storage and study it recorded."""
    state_file = Path(folder) / SWEEP
    if not state_file.is_file():
        raise UsageError(f"{folder}: not a cbrun sweep folder (no {SWEEP})")
    state = json.loads(state_file.read_text())
    sweep = Sweep(Path(folder), storage=state["storage"], study=state["study"], sink=sink)
    sweep.target = trials or state["trials_asked"]
    sink.line(
        f"resuming sweep {folder}: {sweep.finished()} of {sweep.target} trials finished",
        always=True,
    )
    return sweep
