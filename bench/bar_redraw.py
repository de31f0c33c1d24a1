"""What one redraw of cbrun's progress bar costs, drawn on a real pseudo-terminal.

python bench/bar_redraw.py  → milliseconds per redraw (median of 5 × 200)

On TensorFlow, Keras calls batch hooks in the training thread, so a redraw
holds up training for this long; the logger redraws at most twice a second.
"""

import os
import pty
import statistics
import subprocess
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from rich.console import Console  # noqa: E402

from cbrun.output.logsink import LogSink  # noqa: E402
from cbrun.run.rich_progress import RunLogger  # noqa: E402


def main() -> None:
    primary, secondary = pty.openpty()
    drain = subprocess.Popen(["cat"], stdin=primary, stdout=subprocess.DEVNULL)
    console = Console(file=os.fdopen(secondary, "w"), width=100)
    logger = RunLogger(LogSink(console))
    logger.params = {"steps": 938, "epochs": 4}
    logger.on_train_begin()
    logger.on_epoch_begin(0)
    logs = {"accuracy": 0.91234, "loss": 0.3123, "learning_rate": 0.001}
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for step in range(200):
            logger._last_bar = 0.0  # make every update due
            logger._done = 0
            logger._batch_done(step, logs)
        rounds.append((time.perf_counter() - start) / 200)
    logger.on_train_end()
    drain.kill()
    print(f"{statistics.median(rounds) * 1000:.3f} ms per redraw (terminal: {console.is_terminal})")


if __name__ == "__main__":
    main()
