"""What the commands share: the options several take, and the console and log sink."""

from __future__ import annotations

import click

from cbrun.output.logsink import LogSink, make_console

__all__ = [
    "allow_plugin_option",
    "make_console",
    "make_sink",
    "set_option",
    "track_option",
    "verbose_option",
]


def make_sink(quiet: bool = False) -> LogSink:
    """The log sink of a command, on its one console."""
    return LogSink(make_console(), quiet=quiet)


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. fit.epochs=5 or callbacks.1.args.patience=2. Repeatable.",
)


allow_plugin_option = click.option(
    "--allow-plugin",
    "allow_plugins",
    multiple=True,
    metavar="MODULE",
    help="Allow plugin callbacks from MODULE (and its submodules). Repeatable.",
)


# Read by `main()` from the command line before anything loads TensorFlow (see
# cbrun.backend.set_verbose); the option is here so that --help shows it.
verbose_option = click.option(
    "--verbose", "-v", is_flag=True, help="Show TensorFlow's start-up lines on stderr."
)


track_option = click.option(
    "--track",
    multiple=True,
    type=click.Choice(["tensorboard", "mlflow"]),
    help="Also send results to TensorBoard (RUN/tensorboard) or MLflow (tracking: in the "
    "config says where). Repeatable.",
)
