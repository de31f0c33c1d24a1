"""Results where people already look: TensorBoard and MLflow, beside the run folder.

`tensorboard` writes per-epoch scalars (train and validation paired as Keras's own
callback pairs them) and HParams; `mlflow` is a small logger on `MlflowClient` that sends
from a background thread, so a slow or dead server never slows or fails the training;
`session` runs both for a run (and `cbrun track RUN_DIR`, which sends what was missed).
Both are idempotent per epoch: a resumed run continues the same tracked run and never
writes a step twice.

May import: `cbrun.output`, `cbrun.config`, `cbrun.catalog`, `cbrun.backend`,
`cbrun.errors`.
"""
