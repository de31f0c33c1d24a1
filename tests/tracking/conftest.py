"""Readers of what the trackers wrote, with the tools' own code: MLflow's client and
TensorBoard's event reader and HParams protos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="the mlflow extra: pip install -e '.[dev]'")
pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[dev]'")


def mlflow_client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def recorded(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "tracking.json").read_text())


def steps(client, run_id: str, key: str) -> list[int]:
    return [m.step for m in client.get_metric_history(run_id, key)]


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """`{tag: [(step, value)]}` of the scalars in one TensorBoard run folder."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    reader = event_accumulator.EventAccumulator(str(folder), size_guidance={"tensors": 0})
    reader.Reload()
    value = tensor_util.make_ndarray
    return {
        tag: [(e.step, float(value(e.tensor_proto))) for e in reader.Tensors(tag)]
        for tag in reader.Tags()["tensors"]
        if tag != "_hparams_/session_start_info"
    }


def hparams_data(folder: Path):
    """The HParams plugin's data in one folder: (experiment or None, session hparams)."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    reader = event_accumulator.EventAccumulator(str(folder))
    reader.Reload()
    experiment, session = None, {}
    for content in reader.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("experiment"):
            experiment = data.experiment
        if data.HasField("session_start_info"):
            session = {
                key: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
                for key, value in data.session_start_info.hparams.items()
            }
    return experiment, session


def closed_port_uri() -> str:
    """An http URI on 127.0.0.1 where nothing listens: a tracking server that is gone."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class SilentServer:
    """A server on 127.0.0.1 that accepts every connection and never answers: a tracking
    server that hangs. Use as a context manager; `uri` is its address."""

    def __enter__(self):
        import socket
        import threading

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.uri = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self):
        self._socket.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                continue
            self._held.append(connection)  # held open, never read, never answered

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(2)
        for connection in self._held:
            connection.close()
        self._socket.close()
