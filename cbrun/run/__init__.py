"""A training run from start to end: `runner.train` reads top to bottom.

The recorder (history, epoch times, checkpoints), the checkpoint files, resume rules,
Ctrl-C/SIGTERM, one-line failures, the rich run logger, the evaluation at the end of a run,
tf.distribute (Keras's DataParallel on JAX) and the multi-worker supervisor.

May import: `cbrun.build`, `cbrun.data`, `cbrun.output`, `cbrun.config`, `cbrun.catalog`,
`cbrun.migrate`, `cbrun.backend`, `cbrun.errors`.
"""
