"""Datasets: where the arrays come from, and the input pipeline that feeds them.

`datasets` (MNIST sources, Fashion-MNIST, the bundled sample), `arrays` (your own `.npz`),
`mapping` (stored `.npz` members memory-mapped), `feeding` (the tf.data pipeline, features
cast per batch; each epoch's order depends on the seed and epoch alone), `numpy_feeding`
(the same batches as a PyDataset, on JAX), `augment`
(`data.augment`, seeded by seed, epoch and step).

May import: `cbrun.output`, `cbrun.config`, `cbrun.catalog`, `cbrun.backend`,
`cbrun.errors`.
"""
