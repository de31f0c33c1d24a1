"""cbrun's own callbacks, their hooks called directly with hand-made logs (as Keras's tests do)."""

from __future__ import annotations

import keras
import pytest

from cbrun.build.callbacks.lr_schedule import ScheduledLearningRate
from cbrun.build.callbacks.tracing import CustomCallback


class _Model:
    """What a callback reads of a model: its optimizer."""

    def __init__(self, learning_rate):
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)


def test_scheduled_rate_follows_the_table_and_keeps_the_rate_before_its_first_row(capsys):
    callback = ScheduledLearningRate(table=[[2, 0.05], [4, 0.01]])
    model = _Model(0.1)
    callback.set_model(model)
    rates = []
    for epoch in range(6):
        callback.on_epoch_begin(epoch)
        rates.append(round(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)), 4))
    assert rates == [0.1, 0.1, 0.05, 0.05, 0.01, 0.01]
    # Epoch index 2 is the third epoch, as the console counts.
    assert "Epoch 00003: Learning rate is 0.0500." in capsys.readouterr().out


def test_a_table_with_falling_epochs_is_refused_with_what_was_received():
    with pytest.raises(ValueError, match="Received: table="):
        ScheduledLearningRate(table=[[4, 0.01], [2, 0.05]])


def test_the_hook_announcer_names_each_hook_and_its_log_keys(capsys):
    callback = CustomCallback()
    callback.on_train_begin()
    callback.on_epoch_end(3, {"loss": 0.5, "mae": 0.2})
    callback.on_test_batch_end(7, {"loss": 0.4})
    assert capsys.readouterr().out.splitlines() == [
        "on_train_begin; log keys: none",
        "on_epoch_end 3; log keys: loss, mae",
        "on_test_batch_end 7; log keys: loss",
    ]
