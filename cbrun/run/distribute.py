"""The devices a run trains on: the tf.distribute strategy of the config's `distribute:`
section (one device on JAX), TensorFlow's op determinism, and the backend's line.

`fit.batch_size` is the *global* batch: with N replicas each one gets
batch_size / N per step, as Keras does with any strategy; so the same config
trains on the same number of images per step on one device or on eight.
"""

from __future__ import annotations

import contextlib

from cbrun.backend import ignored_shell_backend, load_keras, load_tensorflow, on_jax
from cbrun.errors import UsageError


class JaxDevices:
    """A run's devices on JAX, shaped like the tf.distribute strategy the runner uses:
    one, or every device JAX sees, with Keras's `DataParallel` set process-wide."""

    def __init__(self, devices: list | None = None):
        self.num_replicas_in_sync = max(1, len(devices or ()))

    def scope(self):
        return contextlib.nullcontext()


def reset_distribution() -> None:
    """Keras's process-wide distribution unset (on JAX): what a run set, after it; what
    an earlier run in this process left, before the next."""
    if on_jax():
        load_keras().distribution.set_distribution(None)


def _jax_devices(spec, batch_size: int, announce) -> JaxDevices:
    """`mirrored` on JAX: Keras's DataParallel over every device JAX sees."""
    reset_distribution()
    if spec.strategy == "default":
        return JaxDevices()
    import jax

    devices = jax.devices()
    if batch_size % len(devices):
        raise UsageError(
            f"fit.batch_size {batch_size} (the global batch) does not split evenly over "
            f"{len(devices)} devices"
        )
    keras = load_keras()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    names = ", ".join(f"{d.platform}:{d.id}" for d in devices)
    announce(
        f"distribute: mirrored as Keras's DataParallel over {len(devices)} JAX devices "
        f"({names}); global batch {batch_size} = {batch_size // len(devices)} per device"
    )
    return JaxDevices(devices)


def make_strategy(spec, batch_size: int, announce):
    """The tf.distribute strategy a `DistributeSpec` asks for, announced in one line.

    Must run right after TensorFlow is imported, before any operation: logical
    devices can only be configured before TensorFlow initialises its devices.
    """
    if on_jax():
        return _jax_devices(spec, batch_size, announce)
    tf = load_tensorflow()

    if spec.logical_devices:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * spec.logical_devices
            )
        except RuntimeError as error:
            raise UsageError(
                f"distribute.logical_devices: TensorFlow's devices are already set up ({error})"
            ) from None
    if spec.strategy == "default":
        strategy = tf.distribute.get_strategy()
    elif spec.strategy == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices=spec.devices or None)
    else:
        from cbrun.run.multi_worker import check_keras, report_ready

        check_keras()
        # Blocks until every worker of TF_CONFIG has joined (the parent process times it).
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=spec.timeout_seconds
            )
        )
        report_ready()
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UsageError(
            f"fit.batch_size {batch_size} (the global batch) does not split evenly over "
            f"{replicas} replicas"
        )
    if spec.strategy != "default":
        devices = ", ".join(getattr(strategy.extended, "worker_devices", ()) or ())
        announce(
            f"distribute: {spec.strategy} over {replicas} replicas ({devices}); global batch "
            f"{batch_size} = {batch_size // replicas} per replica"
        )
    return strategy


def backend_said(backend: str) -> str:
    """`Keras on jax` for the start-up line, noting a `KERAS_BACKEND` the config overrode."""
    ignored = ignored_shell_backend()
    return f"Keras on {backend}" + (f", {ignored} ignored: the config decides" if ignored else "")


def set_determinism(deterministic: bool) -> None:
    """TensorFlow's op determinism, process-wide: set either way, so that an earlier run
    in this process (a test, a notebook) never decides for this one."""
    tf = load_tensorflow()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        # Not in TensorFlow's public API, though its twin is (TF >= 2.9 has both).
        from tensorflow.python.framework.config import disable_op_determinism

        disable_op_determinism()
