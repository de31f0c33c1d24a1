"""`cbrun sweep`: a hyperparameter search over one config, on Optuna.

The `sweep:` section names the objective, sampler, pruner and space (config paths,
each a `choice`, `uniform`, `log_uniform` or `int` range); each sampled value is
applied and validated as a `--set` would be, before TensorFlow loads. Each trial is
a cbrun run folder in `SWEEP_DIR/trials/`; the study lives in Optuna's RDB storage
(SQLite in the sweep folder by default), so a killed sweep resumes: finished trials
stay, the interrupted one continues from its checkpoint, to exactly the asked count.

```
runs/<name>-sweep-<YYYYmmdd-HHMMSS>/
  study.db     the Optuna study (SQLite)
  sweep.json   the study, its space, the best trial (params, objective, run), every trial
  best.yaml    the best trial's resolved config, ready for `cbrun train`
  trials/trial-0000/ ...
```
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import time
from pathlib import Path

import yaml

from cbrun.backend import import_keras, load_tensorflow, on_jax, use_backend
from cbrun.config.loading import load_config
from cbrun.errors import CbrunError, NonFiniteLossError
from cbrun.output.rundir import CONFIG, atomic_write_json, atomic_write_text
from cbrun.sweep.reporting import (
    best_row,
    objective_of,
    objective_reporter,
    silent_console,
    trial_row,
)
from cbrun.sweep.space import (
    grid_point,
    make_sampler,
    overrides_for,
    space_summary,
    suggest,
)
from cbrun.sweep.storage import (
    never_less,
    open_study,
)
from cbrun.sweep.tracking import finish_tracking, tag_trial

STORAGE = "study.db"
SWEEP = "sweep.json"
BEST = "best.yaml"
TRIALS = "trials"
SURPLUS = "surplus"  # a user attribute: asked beyond the target, never run


def trial_in_process(folder, storage, study, number: int, target: int, threads: int | None) -> int:
    """In a trial's own process (forked from one that never imported Keras): trial
    `number` of the study, on the backend its values give, with its own storage
    connection; its exit code."""
    from optuna.trial import Trial

    from cbrun.output.logsink import LogSink, make_console
    from cbrun.run.signals import StopSignals

    if threads:  # read by TensorFlow when it starts; JAX's XLA takes all cores
        os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    sweep = Sweep(folder, storage=storage, study=study, sink=LogSink(make_console()))
    sweep.target = target  # what sweep.json records as asked
    frozen = sweep.study.get_trials(deepcopy=False)[number]
    with StopSignals().installed() as between_trials:
        sweep._between_trials = between_trials
        return sweep._trial(Trial(sweep.study, frozen._trial_id), frozen.user_attrs)


def _inside(path: str | None, folder: Path) -> bool:
    return path is not None and Path(path).resolve().is_relative_to(folder.resolve())


class Sweep:
    """One sweep folder and its Optuna study.

    Args:
        folder: the sweep folder (holding `config.yaml`, the sweep's resolved config).
        storage: an Optuna RDB storage URL. Defaults to SQLite in the folder.
        study: the study name. Defaults to the config's name.
        sink: where lines go.
    """

    def __init__(self, folder: Path, *, storage: str | None, study: str | None, sink):
        self.folder, self.sink = Path(folder), sink
        self.target = 0  # the trials to finish, set by `start` or `reopen`
        self.config = self.folder / CONFIG
        self.spec = load_config(self.config)
        self.storage = storage or f"sqlite:///{self.folder / STORAGE}"
        self.name = study or self.spec.name
        self.worker = False  # one of `--jobs` workers: the parent says the resume line and end
        self._threads = None  # TensorFlow's threads in a trial's own process (`run`)

    @property
    def trial_processes(self) -> bool:
        """Each trial in a process of its own: the space holds `backend`, and Keras takes
        its backend once per process, at its import. Otherwise trials share this one."""
        return "backend" in self.spec.sweep.space

    @functools.cached_property
    def study(self):
        """The Optuna study, opened (or created) on first use: a parent of `--jobs` workers
        starts them first, so their TensorFlow import overlaps its own Optuna import."""
        return open_study(self.storage, self.name, self.spec)

    def trials(self, *states) -> list:
        """The study's trials in `states` (all when none), surplus claims left out."""
        found = self.study.get_trials(deepcopy=False, states=states or None)
        return [t for t in found if not t.user_attrs.get(SURPLUS)]

    def finished(self) -> int:
        from optuna.trial import TrialState

        return len(self.trials(TrialState.COMPLETE, TrialState.PRUNED))

    def interrupted(self) -> list[int]:
        """Trials left running, by a killed process, in this folder: to continue."""
        from optuna.trial import TrialState

        running = self.trials(TrialState.RUNNING)
        return [t.number for t in running if _inside(t.user_attrs.get("run_dir"), self.folder)]

    def run(self, *, continue_trials=None, threads: int | None = None, worker=False) -> int:
        """Run trials until `target` are finished (complete or pruned); the exit code.

        Args:
            continue_trials: numbers of interrupted trials to continue first. Defaults
                to every interrupted trial of this folder.
            threads: TensorFlow's intra- and inter-op threads (default: TensorFlow's).
            worker: one of `--jobs` workers (see `self.worker`).
        """
        from cbrun.data.datasets import keeping_last_dataset
        from cbrun.run.signals import StopSignals

        self.worker = worker
        todo = self.interrupted() if continue_trials is None else list(continue_trials)
        self.write()  # from the start: a sweep killed in its first trial can be resumed
        self._threads = threads  # a trial in its own process imports Keras itself
        if not self.trial_processes and (todo or self.finished() < self.target):
            use_backend(self.spec.backend)
            import_keras()  # quietly, before a trial's callback imports Keras
            if threads and not on_jax():
                tf = load_tensorflow()

                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
        # The trials share one loaded dataset, unless the space changes `data:`; a trial
        # installs its own signal handlers, these catch Ctrl-C between trials.
        with keeping_last_dataset(), StopSignals().installed() as between_trials:
            self._between_trials = between_trials
            for number in todo:
                code = self._run_trial(number)
                if code:
                    return code
            while not between_trials.signal_name and (claimed := self._claim()) is not None:
                code = self._run_trial(claimed[0].number, claimed)
                if code:
                    return code
        self.write()
        if between_trials.signal_name:
            return self.say_stopped("interrupted", 130)
        if not worker:
            self.say_end()
        return 0

    def _run_trial(self, number: int, claimed=None) -> int:
        """Trial `number` here, or in a child process of its own (`trial_processes`)."""
        from optuna.trial import Trial

        if self.trial_processes:
            from cbrun.sweep.processes import run_in_child

            return run_in_child(
                functools.partial(
                    trial_in_process,
                    self.folder,
                    self.storage,
                    self.name,
                    number,
                    self.target,
                    self._threads,
                )
            )
        if claimed is None:
            frozen = self.study.get_trials(deepcopy=False)[number]
            claimed = Trial(self.study, frozen._trial_id), frozen.user_attrs
        return self._trial(*claimed)

    def _claim(self):
        """The next trial to run and what it records (its values, its run folder), or None
        once `target` trials are finished or running.

        Several processes may ask at once: a trial is kept only when fewer than `target`
        trials numbered before it are finished or running, so the study never runs more
        than `target` (the storage numbers trials in order). A trial asked beyond that is
        marked surplus and failed at once; it never ran.
        """
        from optuna.trial import TrialState

        counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        if self.spec.sweep.sampler == "grid":  # a point that failed was tried: not again
            counted += (TrialState.FAIL,)
        if len(self.trials(*counted)) >= self.target:
            return None
        trial = self.study.ask()
        slot = len([t for t in self.trials(*counted) if t.number < trial.number])
        if slot < self.target:
            self.study.sampler = make_sampler(self.spec, trial.number)
            space = self.spec.sweep.space
            if self.spec.sweep.sampler == "grid":  # the slot is unique among kept trials
                values = grid_point(self.spec, slot)
            else:
                values = {key: suggest(trial, key, d) for key, d in space.items()}
            attrs = {
                "values": values,
                "run_dir": str(self.folder / TRIALS / f"trial-{trial.number:04d}"),
                "worker": f"{socket.gethostname()}:{os.getpid()}",
            }
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            return trial, attrs
        trial.set_user_attr(SURPLUS, True)
        self.study.tell(trial, state=TrialState.FAIL)
        return None

    def _trial(self, trial, attrs: dict) -> int:
        """Train one trial (from its checkpoint when it has a run folder); the exit code."""
        from cbrun import api

        values, run_dir = attrs["values"], Path(attrs["run_dir"])
        self.sink.line(f"trial {trial.number}: {json.dumps(values)}", always=True)
        use_backend(values.get("backend", self.spec.backend))  # before the reporter's Keras
        reporter = objective_reporter(
            trial, self.spec.sweep.objective.monitor, self._between_trials
        )
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
                console=silent_console(),
            )
        except NonFiniteLossError as error:  # these values diverge: a result, not the end
            self._fail(trial, error)
            return 0
        except CbrunError as error:
            self._fail(trial, error)
            raise
        if run.status in ("interrupted", "terminated"):
            self.write()
            return self.say_stopped(run.status, run.exit_code)
        self._tell(trial, run, reporter.pruned)
        self.write()
        return 0

    def _fail(self, trial, error: CbrunError) -> None:
        """The trial failed: so told, with why. Past `target` failures the sweep stops:
        a config that fails whatever is sampled would otherwise go round forever."""
        from optuna.trial import TrialState

        trial.set_user_attr("error", str(error))
        trial.set_user_attr("status", "failed")
        self.study.tell(trial, state=TrialState.FAIL)
        tag_trial(trial.user_attrs["run_dir"], trial.number, "failed", self._say)
        self.sink.line(f"trial {trial.number}: failed: {error}", always=True)
        self.write()
        failed = len(self.trials(TrialState.FAIL))
        if isinstance(error, NonFiniteLossError) and failed >= self.target:
            raise CbrunError(f"{failed} trials failed; stopping the sweep") from None

    def _tell(self, trial, run, pruned: bool) -> None:
        """The trial's outcome to the study, with its resolved config (for best.yaml on
        any machine that shares the storage)."""
        from optuna.trial import TrialState

        objective = self.spec.sweep.objective
        trial.set_user_attr("config", (Path(run.run_dir) / CONFIG).read_text(encoding="utf-8"))
        trial.set_user_attr("status", "pruned" if pruned else run.status)  # optuna-dashboard
        if pruned:
            self.study.tell(trial, state=TrialState.PRUNED)
            said = f"pruned after {len(run.history)} epoch(s)"
        else:
            value = objective_of(run.history, objective.monitor, objective.mode)
            self.study.tell(trial, value)
            said = f"{objective.monitor} {value:.4f}" if value is not None else "no value"
        self.sink.line(f"trial {trial.number}: {said}  ({run.run_dir})", always=True)
        tag_trial(run.run_dir, trial.number, "pruned" if pruned else "complete", self._say)

    def _say(self, line: str) -> None:
        self.sink.line(line, always=True)

    def say_stopped(self, status: str, code: int) -> int:
        """The resume line (unless a worker: its parent says it); `code`."""
        if not self.worker:
            self.sink.line(
                f"{status}: continue with: cbrun sweep --resume {self.folder}", always=True
            )
        return code

    def say_end(self) -> None:
        """The last line: trials finished, the best, or what is still running elsewhere."""
        from optuna.trial import TrialState

        running, failed = len(self.trials(TrialState.RUNNING)), len(self.trials(TrialState.FAIL))
        said = f"{self.finished()} of {self.target} trials finished"
        if failed:
            said += f", {failed} failed"
        if running:
            said += f", {running} still running in other processes"
        best = json.loads((self.folder / SWEEP).read_text())["best"]
        finish_tracking(self.folder, best, self.spec.sweep.objective.monitor, self._say)
        if best:
            monitor = self.spec.sweep.objective.monitor
            said += f"; best: trial {best['number']}, {monitor} {best['objective']:.4f}"
            said += f" ({self.folder / BEST})"
        self.sink.line(said, always=True)

    def write(self) -> None:
        """`sweep.json` (every trial), and `best.yaml` once a trial completed."""
        from optuna.trial import TrialState

        trials = [trial_row(t) for t in self.trials()]
        never_less(self.folder / SWEEP, trials)  # before best.yaml too
        best = None
        if self.trials(TrialState.COMPLETE):
            top = self.study.best_trial
            best = best_row(top)
            text = top.user_attrs.get("config")  # absent in sweeps begun before it was kept
            if text is None:
                text = (Path(best["run_dir"]) / CONFIG).read_text(encoding="utf-8")
            best_config = yaml.safe_load(text)
            best_config.pop("sweep", None)
            atomic_write_text(self.folder / BEST, yaml.safe_dump(best_config, sort_keys=False))
        atomic_write_json(
            self.folder / SWEEP,
            {
                "study": self.name,
                "storage": self.storage,
                "objective": self.spec.sweep.objective.model_dump(),
                "space": space_summary(self.spec.sweep.space),
                "trials_asked": self.target,
                "best": best,
                "trials": trials,
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
