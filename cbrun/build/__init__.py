"""A `RunSpec` turned into Keras objects: the model, its optimizer, the callbacks.

`models` (the builders and compile), `callbacks/` (the guide's and the blog's callbacks
ported to Keras 3), `callback_factory` (callbacks from the config), `callback_state` (each
callback's declared training state), `plugins` (default-deny user code) and
`plugin_failures` (a plugin's exception named at its own line). `signatures` regenerates
the catalog's table from these classes and the installed Keras.

May import: `cbrun.output`, `cbrun.config`, `cbrun.catalog`, `cbrun.migrate`,
`cbrun.backend`, `cbrun.errors`.
"""
