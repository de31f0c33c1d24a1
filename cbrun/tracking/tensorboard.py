"""A run's TensorBoard folder and a sweep's HParams experiment, written without
TensorFlow: TensorBoard's own protobufs (`scalar_pb`, `hparams_pb`) in its record format.

`RUN/tensorboard/` holds the HParams session (the flat config) and, at the end, the
`best/…` and `final/…` values; `train/` and `validation/` hold one `epoch_<metric>` scalar
per epoch, the pairing Keras's TensorBoard callback uses, so both curves share a chart.
On resume the folder is rewritten from the run's history, which the checkpoint holds:
each metric has exactly one value per epoch, whatever was written before a kill.

Why not `tf.summary`: the same events, but `cbrun track RUN_DIR` (which trains nothing)
then loaded TensorFlow to write them, 4.6 s of its 5 here; and TensorBoard's
`EventFileWriter` opens files through `tf.io.gfile`, which loads TensorFlow too.
"""

from __future__ import annotations

import io
import json
import os
import socket
import time
from pathlib import Path

from cbrun.output.rundir import atomic_write_bytes

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
        self._files = {}
        for name in ("", *GROUPS):
            sub = self.folder / name if name else self.folder
            sub.mkdir(parents=True, exist_ok=True)
            for old in sub.glob(EVENTS):  # cbrun's own: rewritten whole from the history
                old.unlink()
            self._files[name] = open(sub / _event_file_name(time.time()), "ab")  # noqa: SIM115
            self._write(name, [_version_event()])

    def session(self, flat: dict, trial_id: str) -> None:
        """The HParams session: the run's flat config (or a trial's searched values)."""
        from tensorboard.plugins.hparams import summary_v2 as hp

        summary = hp.hparams_pb({key: _plain(v) for key, v in flat.items()}, trial_id=trial_id)
        self._write("", [_event(summary, step=0)])

    def epoch(self, row: dict) -> None:
        """One history row (`epoch` counted from 0, as the recorder keeps it)."""
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        step = int(row["epoch"]) + 1
        events = {group: [] for group in GROUPS}
        for key, value in row.items():
            if key == "epoch" or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            group, tag = _group_and_tag(key)
            events[group].append(_event(scalar_pb(tag, float(value)), step))
        for group, group_events in events.items():
            self._write(group, group_events)

    def results(self, results: dict[str, float], step: int) -> None:
        """`best/…`, `final/…` and `evaluate/…` values at the session's root."""
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        self._write("", [_event(scalar_pb(tag, float(v)), step) for tag, v in results.items()])
        self.close()

    def close(self) -> None:
        for file in self._files.values():
            file.close()

    def _write(self, name: str, events: list) -> None:
        """Append whole records and flush them: TensorBoard reads a file as it grows."""
        from tensorboard.summary.writer.record_writer import RecordWriter

        file = self._files[name]
        records = RecordWriter(file)
        for event in events:
            records.write(event.SerializeToString())
        file.flush()


def _event_file_name(now: float) -> str:
    return f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.cbrun"


def _version_event():
    """The first event of every event file, as TensorFlow's writers put it."""
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")


def _event(summary, step: int):
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=time.time(), step=step, summary=summary)


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
    about 5 s before its workers could start. Written whole, atomically."""
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
    data = io.BytesIO()
    records = RecordWriter(data)
    for event in (_version_event(), _event(summary, step=0)):
        records.write(event.SerializeToString())
    atomic_write_bytes(Path(folder) / _event_file_name(time.time()), data.getvalue())
