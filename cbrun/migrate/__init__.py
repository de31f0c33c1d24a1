"""`cbrun check-plugin`: old (TensorFlow 2.0-era) callback code read with Python's parser.

The tables of what Keras 3 and NumPy 2 changed, the token-level source edits, and the checker
that names every line to change. Nothing here imports or runs the code it reads.

May import: `cbrun.errors`.
"""
