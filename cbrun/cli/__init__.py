"""The `cbrun` command line: click commands only, thin over the click-free core.

May import anything below it (`cbrun.api`, `cbrun.sweep`, `cbrun.after` ...); nothing imports it
but `cbrun/__main__.py` and the `cbrun` script. Never TensorFlow at import.
"""
