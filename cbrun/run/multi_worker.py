"""Several machines with `MultiWorkerMirroredStrategy`: the cluster, a bounded wait
for the peers, and the two adaptations Keras 3 needs to train under it.

Keras 3.15's TensorFlow trainer fails inside `fit` under this strategy
(keras-team/keras#20585, tensorflow/tensorflow#72388; measured in
../shared/notes/keras3-multi-worker.md), at two points of
`keras/src/backend/tensorflow/trainer.py`:

1. `_maybe_symbolic_build` reduces the first distributed batch with
   `strategy.reduce("MEAN", batch, axis=None)`, eagerly, only to learn its
   shapes; under this strategy that raises. One local replica's value has
   the same shapes: cbrun overrides the method on its own model instance.
2. `reduce_per_replica` reduces the scalar step logs with `axis=0`, which fails
   at trace time; a mean across replicas with `axis=None` is what is meant.
   cbrun replaces the module function, only in a process that chose this
   strategy.

`tests/run/test_multi_worker.py` fails the day upstream changes either place, so
the adaptation is removed rather than silently kept.

The strategy's constructor blocks until every worker has joined, holding the
GIL, so no thread can time it out: `cbrun train` forks, trains in the child
process and gives up, with one line and exit 1, when the child has not
reported the cluster ready within `distribute.timeout_seconds`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

from cbrun.backend import load_keras, load_tensorflow
from cbrun.errors import CbrunError, UsageError

WRITTEN_FOR_KERAS = ("3.15",)
CHILD_ENV = "CBRUN_MULTI_WORKER_READY_FD"


@dataclass(frozen=True)
class Cluster:
    """This process's place in the cluster TF_CONFIG describes."""

    task_type: str
    index: int
    address: str
    peers: tuple

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief" or (self.task_type == "worker" and self.index == 0)

    @property
    def name(self) -> str:
        return f"{self.task_type} {self.index}"


def cluster_from_env() -> Cluster:
    """The cluster and this task, from TF_CONFIG as TensorFlow documents it."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UsageError(
            "distribute.strategy multi_worker_mirrored reads the cluster from TF_CONFIG, which "
            "is not set (see the README: 'Several machines')"
        )
    try:
        config = json.loads(raw)
        task_type, index = config["task"]["type"], int(config["task"]["index"])
        cluster = config["cluster"]
        address = cluster[task_type][index]
        everyone = [a for kind in ("chief", "worker") for a in cluster.get(kind, [])]
        return Cluster(task_type, index, address, tuple(a for a in everyone if a != address))
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"TF_CONFIG is not a valid cluster description ({error})") from None


def check_keras() -> None:
    """Refuse a Keras this adaptation was not written for."""
    keras = load_keras()

    if not keras.__version__.startswith(WRITTEN_FOR_KERAS):
        raise CbrunError(
            f"multi_worker_mirrored is adapted to Keras {', '.join(WRITTEN_FOR_KERAS)}; this is "
            f"Keras {keras.__version__}: check keras-team/keras#20585 and cbrun/run/multi_worker.py"
        )


def _local_value(strategy, value):
    tf = load_tensorflow()

    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def adapt(model, strategy) -> None:
    """Apply both adaptations (see the module docstring) for this model."""
    keras = load_keras()
    from keras.src.backend.tensorflow import trainer as tf_trainer

    check_keras()
    original = tf_trainer.reduce_per_replica
    if not getattr(original, "_cbrun_adapted", False):

        def reduce_per_replica(values, strategy, reduction):
            if not tf_trainer._collective_all_reduce_multi_worker(strategy) or reduction not in (
                "auto",
                "mean",
            ):
                return original(values, strategy, reduction)
            return keras.tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)

        reduce_per_replica._cbrun_adapted = True
        tf_trainer.reduce_per_replica = reduce_per_replica

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(lambda v: _local_value(strategy, v), next(it))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = types.MethodType(maybe_symbolic_build, model)


def report_ready() -> None:
    """In the child: tell the supervising process that every peer has joined."""
    fd = os.environ.pop(CHILD_ENV, None)
    if fd is not None:
        os.write(int(fd), b"ready")
        os.close(int(fd))


def _start_worker_child() -> tuple[int, int]:
    """Fork this `cbrun train` process: the child returns and trains (it alone loads
    TensorFlow), reporting readiness through CHILD_ENV; the parent gets (pid, read end).

    A fork, not a new `python -m cbrun`: the child carries on from the config already
    read, without a second interpreter start, cbrun import and config pass. Nothing has
    started a thread or run a TensorFlow op here yet, so the fork is safe."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.environ[CHILD_ENV] = str(write_end)
        return 0, -1
    os.close(write_end)
    return pid, read_end


def _wait_ready(pid: int, read_end: int, timeout: float) -> tuple[bool, int | None]:
    """Until the child reports ready, ends, or `timeout` passes: (ready, its wait status
    if it ended)."""
    os.set_blocking(read_end, False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                if os.read(read_end, 16) == b"ready":
                    return True, None
            except BlockingIOError:
                pass
            ended, status = os.waitpid(pid, os.WNOHANG)
            if ended:
                return False, status
            time.sleep(0.1)
        return False, None
    finally:
        os.close(read_end)


def supervise(pid: int, read_end: int, timeout: float, cluster: Cluster) -> int:
    """Watch the training child `pid`; return its exit code.

    Gives up with exit 1 when the child has not reported the cluster ready in
    `timeout` seconds. Ctrl-C and SIGTERM are passed on to the child.
    """

    def forward(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    ready, status = _wait_ready(pid, read_end, timeout)
    if not ready and status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print(
            f"Error: the workers of TF_CONFIG ({', '.join(cluster.peers)}) did not all join "
            f"within {timeout:g} s "
            f"(distribute.timeout_seconds); {cluster.name} gives up",
            file=sys.stderr,
        )
        return 1
    if status is None:
        _, status = os.waitpid(pid, 0)  # retried after a forwarded signal (PEP 475)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by a signal: report it as a shell does


def supervise_this_command(config, resume, overrides, allow_plugins=()) -> None:
    """Under multi_worker_mirrored, run this same `cbrun` command as a child and watch
    it (the strategy waits for its peers with no timeout of its own); exit with its code.
    Returns at once in the child, and for any other strategy."""
    from cbrun.config.loading import load_config
    from cbrun.output.rundir import CONFIG

    if CHILD_ENV in os.environ:
        return
    if resume is not None:
        from cbrun.output.rundir import RunDir

        RunDir.open(Path(resume), finished=False)  # a missing or foreign folder: one line
    spec = load_config(config or Path(resume) / CONFIG, overrides, allow_plugins, bool(resume))
    if spec.distribute.strategy == "multi_worker_mirrored":
        cluster = cluster_from_env()
        pid, read_end = _start_worker_child()
        if pid:
            sys.exit(supervise(pid, read_end, spec.distribute.timeout_seconds, cluster))
