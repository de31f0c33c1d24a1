"""MultiWorkerMirroredStrategy: two real worker processes on 127.0.0.1."""

from __future__ import annotations

import inspect
import json
import socket

import pytest

from tests.conftest import ROOT, start_cbrun

CONFIG = """\
name: cluster
data: {dataset: mnist, source: bundled, limit: {train: 640, test: 256}}
model: {name: mlp, args: {units: [16]}}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}
fit: {batch_size: 32, epochs: 1, steps_per_epoch: 4}
evaluate: {batch_size: 64, steps: 2}
distribute: {strategy: multi_worker_mirrored, timeout_seconds: TIMEOUT}
"""


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# What TensorFlow says when a worker's port was taken between `_free_ports` and its bind.
PORT_TAKEN = ("Address already in use", "Failed to add port")


def _cluster(launch, count: int = 2, timeout: float = 240):
    """Start `count` workers with `launch(index, ports)` and wait for all of them
    (`launch` returns None for a worker it leaves out).

    TensorFlow binds each worker's port itself, so a port found free may be taken by
    another process before that bind: then the whole cluster starts again on new
    ports (three tries). Returns the processes, their (stdout, stderr) and the ports.
    """
    for _ in range(3):
        ports = _free_ports(count)
        workers = [w for w in (launch(i, ports) for i in range(count)) if w is not None]
        try:
            outputs = [w.communicate(timeout=timeout) for w in workers]
        finally:
            for w in workers:
                w.kill()
        if not any(taken in err for _, err in outputs for taken in PORT_TAKEN):
            return workers, outputs, ports
    pytest.fail(f"the cluster's ports were taken three times: {outputs}")


def _worker(index: int, ports: list[int], *args, cwd):
    """`cbrun ARGS` as worker `index` of a cluster on 127.0.0.1 at `ports`."""
    tf_config = {
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    }
    return start_cbrun(*args, cwd=cwd, env={"TF_CONFIG": json.dumps(tf_config)})


def test_missing_peer_ends_with_one_line_in_bounded_time(tmp_path):
    config = tmp_path / "cluster.yaml"
    config.write_text(CONFIG.replace("TIMEOUT", "3"))
    # Worker 1 is never started: worker 0 waits for it until distribute.timeout_seconds.
    (alone,), ((out, err),), ports = _cluster(
        lambda i, ports: (
            _worker(i, ports, "train", config, "--runs-dir", tmp_path / "runs", cwd=tmp_path)
            if i == 0
            else None
        )
    )
    # A hang would raise TimeoutExpired in _cluster; the message proves the limit fired.
    assert alone.returncode == 1
    assert err.strip().splitlines()[-1] == (
        f"Error: the workers of TF_CONFIG (127.0.0.1:{ports[1]}) did not all join within 3 s "
        "(distribute.timeout_seconds); worker 0 gives up"
    )
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_tf_config_is_required(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config = tmp_path / "cluster.yaml"
    config.write_text(CONFIG.replace("TIMEOUT", "10"))
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "reads the cluster from TF_CONFIG, which is not set" in result.stderr


def test_the_keras_problems_we_adapt_to_are_still_upstream():
    """Fails the day Keras changes either place: then remove cbrun/multi_worker.py's adaptation."""
    from keras.src.backend.tensorflow import trainer

    reduce_source = inspect.getsource(trainer.reduce_per_replica)
    build_source = inspect.getsource(trainer.TensorFlowTrainer._maybe_symbolic_build)
    assert 'strategy.reduce("MEAN", v, axis=0)' in reduce_source
    assert "self.distribute_strategy.reduce(" in build_source


def test_two_workers_train_only_the_chief_writes_and_both_resume_from_its_checkpoint(tmp_path):
    """One cluster killed in epoch 2, then resumed: the two rounds prove what a plain run
    of two workers would (trained, the chief alone writes) and the resume besides."""
    import shutil

    config = tmp_path / "cluster.yaml"
    config.write_text(
        CONFIG.replace("TIMEOUT", "120").replace("epochs: 1", "epochs: 3")
        + "plugins: [kill_switch]\n"
        + "callbacks: [{name: 'kill_switch:KillSwitch', args: {epoch: 1, batch: 1}}]\n"
    )
    for index in (0, 1):  # each worker its own folder, so each has its own kill marker
        (tmp_path / f"w{index}").mkdir()
        shutil.copy(ROOT / "tests" / "plugins" / "kill_switch.py", tmp_path / f"w{index}")
    chief_run = tmp_path / "chief-run"

    def start(index, ports, *args):  # each worker in its own folder, with its own marker
        return _worker(index, ports, "train", *args, cwd=tmp_path / f"w{index}")

    runs = [chief_run, tmp_path / "worker-run"]
    first, _, _ = _cluster(lambda i, ports: start(i, ports, config, "--run-dir", runs[i]))
    # One worker SIGKILLs itself in epoch 2; its peer may do the same or may be
    # aborted by the coordination service first, before its own switch fires.
    codes = [p.returncode for p in first]
    assert 137 in codes and 0 not in codes, codes
    for index in (0, 1):  # so that neither switch fires again in the resumed run
        (tmp_path / f"w{index}" / "killed").write_text("killed")
    again, outputs, _ = _cluster(lambda i, ports: start(i, ports, "--resume", chief_run))
    assert [p.returncode for p in again] == [0, 0], outputs
    assert f"resuming {chief_run} at epoch 2/3" in outputs[0][0]
    summary = json.loads((chief_run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 3
    assert summary["distribute"]["replicas"] == 2
    assert {"config.yaml", "summary.json", "history.csv", "train.log", "model.keras"} <= {
        p.name for p in chief_run.iterdir()
    }
    assert not (tmp_path / "worker-run").exists()  # in neither round
    assert "worker 1: epoch 3/3" in outputs[1][0]
    assert "distribute: multi_worker_mirrored over 2 replicas" in outputs[0][0]
