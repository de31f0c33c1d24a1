"""The logger: clean plain lines off a terminal, live progress on one, train.log always."""

from __future__ import annotations

import io
import re

import keras
import numpy as np
import pytest
from rich.console import Console

from cbrun.output.logsink import LogSink
from cbrun.run.rich_progress import RunLogger, lower_is_better

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n


def _fit(logger, epochs=3, steps=8, spe=1, validation=False):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(32 * steps, 8)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=spe,
    )
    model.fit(
        x,
        y,
        batch_size=32,
        epochs=epochs,
        verbose=0,
        callbacks=[logger],
        validation_split=0.25 if validation else 0.0,
    )
    return model


def _console(terminal: bool):
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=120), buffer


@pytest.mark.parametrize("every,batch_lines", [(None, 0), (2, 3 * 3), (1, 3 * 8)])
def test_plain_output_has_one_line_per_epoch_and_every_n_batches(every, batch_lines, tmp_path):
    console, buffer = _console(terminal=False)
    sink = LogSink(console)
    sink.open_log(tmp_path / "train.log")
    _fit(RunLogger(sink, every=every, seconds=3600))
    sink.close()
    out = buffer.getvalue()
    assert not CONTROL.search(out) and "\x1b" not in out
    lines = out.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch ") and "s  " in line]
    step_lines = [line for line in lines if " step " in line]
    assert len(epoch_lines) == 3
    # every=N prints steps N, 2N, ... short of the last (the epoch line covers it);
    # every=1 (--verbose) prints them all.
    assert len(step_lines) == batch_lines
    assert (tmp_path / "train.log").read_text().splitlines() == lines


def test_epoch_line_shows_metrics_changes_and_learning_rate():
    console, buffer = _console(terminal=False)
    _fit(RunLogger(LogSink(console)), validation=True)
    second = buffer.getvalue().splitlines()[1]
    assert re.match(
        r"^epoch 2/3  \d+\.\d\ds  accuracy \d\.\d{4} \([+-]\d\.\d{4}\)  "
        r"loss \d\.\d{4} \([+-]\d\.\d{4}\)  val_accuracy .*  val_loss .*  "
        r"lr 0\.0010$",
        second,
    )


def test_steps_per_execution_chunks_never_overshoot():
    console, buffer = _console(terminal=False)
    logger = RunLogger(LogSink(console), every=1)
    _fit(logger, epochs=1, steps=10, spe=8)
    steps = [
        line.split(" step ")[1].split()[0]
        for line in buffer.getvalue().splitlines()
        if " step " in line
    ]
    assert steps == ["8/10", "10/10"]


def test_terminal_output_is_coloured_and_live(tmp_path):
    console, buffer = _console(terminal=True)
    sink = LogSink(console)
    sink.open_log(tmp_path / "train.log")
    logger = RunLogger(sink)
    assert logger.interactive
    _fit(logger)
    sink.close()
    out = buffer.getvalue()
    assert "\x1b[" in out  # colour and the live bar
    # Each epoch's last redraw: steps, rate, ETA and the live metrics beside the bar.
    bar = r"epoch 3/3 .*8/8  [\d,]+ steps/s  ETA 0:00  accuracy [\d.]+  loss [\d.]+"
    assert re.search(bar, out)
    log = (tmp_path / "train.log").read_text()
    assert "\x1b" not in log and log.count("epoch ") == 3


def test_quiet_prints_nothing_but_what_is_always_shown():
    console, buffer = _console(terminal=False)
    sink = LogSink(console, quiet=True)
    _fit(RunLogger(sink))
    sink.line("final summary", always=True)
    assert buffer.getvalue() == "final summary\n"


def test_metric_direction():
    assert lower_is_better("loss") and lower_is_better("val_mae")
    assert not lower_is_better("accuracy") and not lower_is_better("val_auc")


def test_an_epoch_the_recorder_did_not_keep_is_said_to_be_so():
    from cbrun.run.recorder import RunRecorder

    console, buffer = _console(terminal=False)
    recorder = RunRecorder()

    class StopMidEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                self.model.stop_training = True

    _fit_with = [StopMidEpoch(), recorder, RunLogger(LogSink(console), recorder=recorder)]
    keras.utils.set_random_seed(0)
    x = np.zeros((32 * 8, 8), "float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x[:, 0], batch_size=32, epochs=2, verbose=0, callbacks=_fit_with)
    assert recorder.history == []
    assert buffer.getvalue().splitlines() == ["epoch 1/2 stopped at step 4/8; not recorded"]


def test_cli_quiet_prints_only_the_summary(tiny_config, train):
    result, run = train(tiny_config(), "--quiet")
    assert result.exit_code == 0
    assert not any(
        line.startswith(("epoch ", "data:", "run:")) for line in result.stdout.splitlines()
    )
    assert "tiny: completed" in result.stdout
    assert "epoch 3/3" in (run / "train.log").read_text()
