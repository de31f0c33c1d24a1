"""Datasets: where the arrays come from, and the input pipeline that feeds them.

`datasets` (MNIST sources, Fashion-MNIST, the bundled sample), `arrays` (your own `.npz`),
`feeding` (the tf.data pipeline; each epoch's order depends on the seed and epoch alone).

May import: `cbrun.output`, `cbrun.config`, `cbrun.catalog`, `cbrun.tensorflow_loader`,
`cbrun.errors`.
"""
