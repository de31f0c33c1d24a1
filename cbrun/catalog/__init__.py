"""The names a config may use, and what each one takes: data and lookup, no TensorFlow.

The Keras table (`signatures.json`, made from the installed Keras and cbrun's own classes by
`python -m cbrun.build.signatures --write`) and the registries read from it: callbacks, model
builders, optimizers, learning-rate schedules, metric directions, datasets.

May import: `cbrun.errors`.
"""
