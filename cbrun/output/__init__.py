"""What a run leaves and shows: the run folder and the console.

`rundir` (the folder's files, each written atomically), `summary` (`summary.json`'s model)
and `logsink` (the console and `train.log`, one sink for every line a run prints).

May import: `cbrun.config`, `cbrun.catalog`, `cbrun.errors`. Never TensorFlow at import.
"""
