"""`cbrun sweep`: the `sweep:` section as Optuna's parts, the study in its storage,
the trial loop and its exact count, and `--jobs` worker processes (each makes its own console).

May import: `cbrun.api`, `cbrun.after`, `cbrun.run` and everything below them. Never `cbrun.cli`.
"""
