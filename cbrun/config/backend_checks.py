"""What the backend and a `distribute:` strategy cannot run, said before any backend is
imported.

On JAX, `distribute: {strategy: mirrored}` is Keras's `DataParallel` over JAX's devices
and `logical_devices: N` splits the CPU into N of them (XLA's host device count), as the
two do on TensorFlow; `multi_worker_mirrored` and a `devices` list (TensorFlow's device
names) are tf.distribute's alone. The JAX backend's extra must be installed. Everything
else a config can ask for runs on both (docs: "Keras on JAX").
"""

from __future__ import annotations

from cbrun.backend import missing_extra


def tensorflow_needed(spec) -> list[str]:
    """What in `spec` needs TensorFlow itself on JAX: Keras's TensorBoard callback and
    cbrun's TensorBoard tracker write their event files with `tf.summary`."""
    needs = [
        f"callbacks[{index}] TensorBoard"
        for index, item in enumerate(spec.callbacks)
        if item.name == "TensorBoard"
    ]
    return needs + (["tracking.tensorboard"] if spec.tracking.tensorboard else [])


def backend_problems(spec) -> list:
    """`(path, message, is_key)` for each thing the config's backend cannot do."""
    problem = missing_extra(spec.backend)
    if problem:
        return [(("backend",), problem.removeprefix("backend: "), False)]
    if spec.backend != "jax":
        return []
    found = []
    strategy = spec.distribute.strategy
    if strategy == "multi_worker_mirrored":
        message = (
            "multi_worker_mirrored is a tf.distribute strategy, which backend jax does not "
            "have: use mirrored (Keras's DataParallel over this machine's devices), or train "
            "with backend: tensorflow"
        )
        found.append((("distribute", "strategy"), message, False))
    if spec.distribute.devices is not None:
        message = (
            "names TensorFlow's devices; on backend jax, mirrored takes every device JAX "
            "sees (distribute.logical_devices splits the CPU): remove it"
        )
        found.append((("distribute", "devices"), message, False))
    return found


def distribute_problems(spec) -> list:
    """Keras's multi-step loop under a tf.distribute strategy."""
    steps = spec.fit.steps_per_execution
    on_tensorflow = spec.backend == "tensorflow"
    if spec.distribute.strategy != "default" and steps not in ("auto", 1) and on_tensorflow:
        message = (
            f"must be auto or 1 with distribute.strategy {spec.distribute.strategy} "
            "(Keras's multi-step loop fails under tf.distribute)"
        )
        return [(("fit", "steps_per_execution"), message, False)]
    return []
