"""The guide's table-driven learning-rate scheduler, on Keras 3."""

from __future__ import annotations

from cbrun.backend import load_keras
from cbrun.build.callback_state import NoTrainingState
from cbrun.catalog.schedules import schedule_problems, table_rate
from cbrun.output.logsink import PrintsLines

keras = load_keras()

GUIDE_TABLE = ((3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001))


class ScheduledLearningRate(NoTrainingState, PrintsLines, keras.callbacks.Callback):
    """Sets the learning rate at the start of each epoch from a table.

    The guide's `CustomLearningRateScheduler` with its `lr_schedule`: at each
    epoch start it reads `optimizer.learning_rate`, looks the epoch up in the
    table (the rate of the last row whose epoch has been reached; before the
    first row the optimizer's own rate stays), sets it and prints it.

    Args:
        table: `[epoch, learning_rate]` rows, epochs rising.
            Defaults to the guide's `[[3, 0.05], [6, 0.01], [9, 0.005], [12, 0.001]]`.

    Example:

    ```yaml
    callbacks:
      - name: ScheduledLearningRate
        args: {table: [[3, 0.05], [6, 0.01], [9, 0.005], [12, 0.001]]}
    ```
    """

    says_its_decisions = True  # prints its own line; cbrun.run.decisions stays quiet

    def __init__(self, table=GUIDE_TABLE):
        super().__init__()
        table = [list(row) for row in table]
        problems = schedule_problems({"type": "table", "table": table})
        if problems:
            raise ValueError(f"table {problems[0][1]}. Received: table={table!r}")
        self.table = table

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        current = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        scheduled = table_rate(self.table, epoch, current)
        optimizer.learning_rate = scheduled
        # Numbered from 1, as every cbrun line is (the guide printed Keras's index).
        self.say(f"Epoch {epoch + 1:05d}: Learning rate is {scheduled:6.4f}.")
