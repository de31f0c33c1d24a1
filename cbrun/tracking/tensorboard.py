"""A run's TensorBoard folder, written with `tf.summary` and the HParams plugin's API;
a sweep's HParams experiment, written without TensorFlow.

`RUN/tensorboard/` holds the HParams session (the flat config) and, at the end, the
`best/…` and `final/…` values; `train/` and `validation/` hold one `epoch_<metric>` scalar
per epoch, the pairing Keras's TensorBoard callback uses, so both curves share a chart.
On resume the folder is rewritten from the run's history, which the checkpoint holds:
each metric has exactly one value per epoch, whatever was written before a kill.
"""

from __future__ import annotations

import io
import json
import os
import socket
import time
from pathlib import Path

from cbrun.output.rundir import atomic_write_bytes
from cbrun.tensorflow_loader import load_tensorflow

EVENTS = "events.out.tfevents.*"
GROUPS = ("train", "validation")


def _group_and_tag(key: str) -> tuple[str, str]:
    if key.startswith("val_"):
        return "validation", f"epoch_{key[4:]}"
    return "train", f"epoch_{key}"


def _plain(value):
    """A value HParams takes: bool, int, float or str."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True)


class TensorBoardRun:
    """The TensorBoard folder of one run, opened for writing.

    Args:
        folder: `RUN/tensorboard`.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        tf = load_tensorflow()
        for sub in (self.folder, *(self.folder / g for g in GROUPS)):
            for old in sub.glob(EVENTS):  # cbrun's own: rewritten whole from the history
                old.unlink()
        self._writers = {
            name: tf.summary.create_file_writer(str(self.folder / name if name else self.folder))
            for name in ("", *GROUPS)
        }

    def session(self, flat: dict, trial_id: str) -> None:
        """The HParams session: the run's flat config (or a trial's searched values)."""
        from tensorboard.plugins.hparams import api as hp  # TensorFlow is loaded: quiet

        with self._writers[""].as_default():
            hp.hparams({key: _plain(v) for key, v in flat.items()}, trial_id=trial_id)

    def epoch(self, row: dict) -> None:
        """One history row (`epoch` counted from 0, as the recorder keeps it)."""
        tf = load_tensorflow()
        step = int(row["epoch"]) + 1
        for key, value in row.items():
            if key == "epoch" or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            group, tag = _group_and_tag(key)
            with self._writers[group].as_default():
                tf.summary.scalar(tag, float(value), step=step)
        for writer in self._writers.values():
            writer.flush()

    def results(self, results: dict[str, float], step: int) -> None:
        """`best/…`, `final/…` and `evaluate/…` values at the session's root."""
        tf = load_tensorflow()
        with self._writers[""].as_default():
            for tag, value in results.items():
                tf.summary.scalar(tag, float(value), step=step)
        self.close()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.flush()


def result_values(history: list[dict], best: dict, evaluate: dict | None) -> dict[str, float]:
    """The values the HParams table shows for a run: final, best and evaluate metrics."""
    values = {}
    for key, value in (history[-1] if history else {}).items():
        if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[f"final/{key}"] = value
    for key, (_, value) in best.items():
        values[f"best/{key}"] = value
    for key, value in (evaluate or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[f"evaluate/{key}"] = value
    return values


def write_experiment(folder: Path, space: dict, monitor: str) -> None:
    """A sweep's HParams experiment at its folder's root: the space as HParam domains and
    the objective (each trial's best epoch) as the metric, so `tensorboard --logdir
    SWEEP_DIR` shows the trials in the HParams table and parallel coordinates.

    Written without TensorFlow (TensorBoard's own protobufs and record format): the sweep's
    parent process trains nothing, and loading TensorFlow for this one event cost it
    about 5 s before its workers could start."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary.writer.record_writer import RecordWriter

    hparams = []
    for key, dimension in space.items():
        kind, values = next(iter(dimension.items()))
        if kind == "choice":
            plain = [_plain(v) for v in values]
            if len({type(v) for v in plain}) > 1:
                plain = [json.dumps(v, sort_keys=True) for v in values]
            domain = hp.Discrete(plain)
        elif kind in ("int", "integer"):
            domain = hp.IntInterval(int(values[0]), int(values[1]))
        else:
            domain = hp.RealInterval(float(values[0]), float(values[1]))
        hparams.append(hp.HParam(key, domain))
    metrics = [hp.Metric(f"best/{monitor}", display_name=f"best {monitor}")]
    group, tag = _group_and_tag(monitor)
    metrics.append(hp.Metric(tag, group=group, display_name=monitor))
    summary = hp.hparams_config_pb(hparams=hparams, metrics=metrics)
    now = time.time()
    events = [
        event_pb2.Event(wall_time=now, file_version="brain.Event:2"),  # as every writer's first
        event_pb2.Event(wall_time=now, step=0, summary=summary),
    ]
    # TensorBoard's own EventFileWriter opens files through `tf.io.gfile`, which loads
    # TensorFlow: its record format into bytes instead, written atomically.
    data = io.BytesIO()
    records = RecordWriter(data)
    for event in events:
        records.write(event.SerializeToString())
    name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.cbrun"
    atomic_write_bytes(Path(folder) / name, data.getvalue())
