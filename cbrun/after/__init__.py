"""What happens after a run, from its folder alone: evaluate, predict, `runs`, plots, views.

May import: `cbrun.run` and everything below it.
"""
