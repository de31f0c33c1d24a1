"""What a trial tells its study: the objective after every epoch (and whether to prune),
its best value at the end; and the silent console a trial prints to.
"""

from __future__ import annotations

import os
import signal

from cbrun.backend import load_keras


def objective_reporter(trial, monitor: str, pending):
    """A Keras callback: the objective to Optuna after every epoch; a pruned trial stops
    at the end of that epoch (its run folder stays a valid, stopped run). `pending` holds
    a Ctrl-C or SIGTERM that came while the trial was being set up."""
    keras = load_keras()

    class ReportObjective(keras.callbacks.Callback):
        pruned = False

        def on_train_begin(self, logs=None):
            # Sent again now that the run handles signals: it stops after this step,
            # resumable, instead of training the whole trial first.
            if pending.signal_name:
                os.kill(os.getpid(), signal.Signals[pending.signal_name])

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None:
                return
            trial.report(float(value), epoch)
            if trial.should_prune():
                self.pruned = True
                self.model.stop_training = True

    return ReportObjective()


def silent_console():
    """Trials print nothing: their lines go to their own train.log; the sweep says one
    line per trial."""
    from rich.console import Console

    return Console(quiet=True)


def objective_of(history: list[dict], monitor: str, mode: str) -> float | None:
    values = [row[monitor] for row in history if isinstance(row.get(monitor), float)]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


def trial_row(trial) -> dict:
    """One trial as `sweep.json` lists it."""
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "status": trial.state.name.lower(),
        "params": attrs.get("values"),
        "objective": trial.value,
        "epochs": len(trial.intermediate_values),
        "run_dir": attrs.get("run_dir"),
        "worker": attrs.get("worker"),
        "error": attrs.get("error"),
    }


def best_row(trial) -> dict:
    """The best trial as `sweep.json` names it."""
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "params": attrs.get("values"),
        "objective": trial.value,
        "run_dir": attrs.get("run_dir"),
    }
