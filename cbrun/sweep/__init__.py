"""`cbrun sweep`: the `sweep:` section as Optuna's parts, the study in its storage,
the trial loop and its exact count, the sweep folder, and the processes: `--jobs` workers
(each makes its own console), and a trial per process when the space holds `backend`.

May import: `cbrun.api`, `cbrun.after`, `cbrun.run` and everything below them. Never `cbrun.cli`.
"""
