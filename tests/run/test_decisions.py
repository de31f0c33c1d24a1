"""Every decision that ends or changes a run is said in one line: who, when, why."""

from __future__ import annotations

import pytest


def _said(result, run) -> tuple[str, str]:
    assert result.exit_code == 0, result.output
    return result.stdout, (run / "train.log").read_text()


def test_keras_early_stopping_says_why_it_stopped_and_whose_weights_were_kept(tiny_config, train):
    # min_delta 100: no epoch can improve, so patience 1 stops it after epoch 2.
    config = tiny_config(
        "callbacks:\n"
        "  - {name: EarlyStopping, args: {monitor: loss, patience: 1, min_delta: 100,"
        " restore_best_weights: true}}\n"
    )
    result, run = train(config)
    out, log = _said(result, run)
    stopped = "epoch 2: EarlyStopping stopped the run: loss did not improve by more than 100"
    restored = "EarlyStopping restored the weights of epoch 1 (loss "
    for text in (out, log):
        assert stopped in text and "for 1 epochs (best " in text and "at epoch 1)" in text
        assert restored in text
        # Said below the epoch's own row, once.
        assert text.index("epoch 2/3") < text.index(stopped)
        assert text.count(stopped) == 1


def test_without_restore_the_run_says_the_last_weights_are_kept(tiny_config, train):
    config = tiny_config(
        "callbacks:\n"
        "  - {name: EarlyStopping, args: {monitor: loss, patience: 1, min_delta: 100}}\n"
    )
    out, log = _said(*train(config))
    assert "EarlyStopping: the saved model has the last epoch's weights" in log
    assert "restored the weights" not in out


def test_reduce_lr_on_plateau_says_each_change(tiny_config, train):
    config = tiny_config(
        "callbacks:\n"
        "  - {name: ReduceLROnPlateau, args: {monitor: loss, patience: 1, min_delta: 100,"
        " factor: 0.5, cooldown: 0}}\n"
    )
    out, log = _said(*train(config))
    line = "epoch 2: ReduceLROnPlateau lowered the learning rate from 0.01 to 0.005"
    assert line in out and line in log
    assert "epoch 3: ReduceLROnPlateau lowered the learning rate from 0.005 to 0.0025" in log


@pytest.mark.parametrize("callback", ["EarlyStoppingAtMinLoss", "TerminateOnNaN"])
def test_a_schedule_in_the_optimizer_is_no_callbacks_decision(tiny_config, train, callback):
    config = tiny_config(
        "compile:\n"
        "  optimizer:\n"
        "    name: rmsprop\n"
        "    args:\n"
        "      learning_rate: {name: ExponentialDecay, args: {initial_learning_rate: 0.01,"
        " decay_steps: 1, decay_rate: 0.5}}\n"
        "  loss: mean_squared_error\n"
        f"callbacks: [{{name: {callback}}}]\n"
    )
    out, log = _said(*train(config))
    assert "the learning rate from" not in log
    # cbrun's own EarlyStoppingAtMinLoss says its decision itself; nothing is said twice.
    assert "stopped the run" not in log


def test_stop_reason_reads_what_keras_early_stopping_keeps():
    from types import SimpleNamespace

    from cbrun.run.decisions import stop_reason

    keras_like = SimpleNamespace(
        monitor="val_loss", best=0.07123, best_epoch=3, min_delta=-0.01, wait=3
    )
    assert stop_reason(keras_like) == (
        ": val_loss did not improve by more than 0.01 for 3 epochs (best 0.07123 at epoch 4)"
    )
    assert stop_reason(SimpleNamespace()) == ""  # a callback that keeps none of it
