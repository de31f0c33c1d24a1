"""cbrun's own callbacks: the TensorFlow guide's and the blog's, ported to Keras 3.

May import what `cbrun.build` may.
"""
