"""cbrun's callbacks: the guide's and the blog's examples on Keras 3, the logger,
and the catalog of everything a config may name.

Importing this package does not import Keras; each callback module does.
"""
