"""The `cbrun` command line: thin commands over the click-free core.

One place (`CbrunGroup.invoke`) turns a `CbrunError` into `Error: ...` lines on
stderr and its exit code; anything else is a bug and keeps its traceback.
This module must not import TensorFlow: `--help`, `validate` and
`list-callbacks` answer before it would have loaded.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from cbrun import __version__
from cbrun.errors import CbrunError


class CbrunGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CbrunError as error:
            for line in str(error).splitlines():
                click.echo(f"Error: {line}", err=True)
            ctx.exit(error.exit_code)


def make_console() -> Console:
    """The one Console of a command. rich honours NO_COLOR, TERM=dumb and pipes."""
    return Console(highlight=False)


def _sink(quiet: bool = False):
    from cbrun.logsink import LogSink

    return LogSink(make_console(), quiet=quiet)


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. fit.epochs=5 or callbacks.1.args.patience=2. Repeatable.",
)


@click.group(cls=CbrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cbrun")
def cli():
    """Train Keras models from a YAML file: data, model, fit and callbacks by name."""


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@set_option
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    help="Parent folder of the new run folder. Defaults to output.runs_dir (runs/).",
)
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    help="The exact folder for this run; it must not exist yet.",
)
@click.option("--name", help="Run name (the run folder is NAME-YYYYmmdd-HHMMSS).")
@click.option(
    "--allow-plugin",
    "allow_plugins",
    multiple=True,
    metavar="MODULE",
    help="Allow plugin callbacks from MODULE (and its submodules). Repeatable.",
)
@click.option(
    "--log-every",
    type=click.IntRange(min=1),
    metavar="N",
    help="A batch line every N steps (default: about every logging.seconds).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the final summary.")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Print every batch, and TensorFlow's own start-up messages.",
)
def train(config, overrides, runs_dir, run_dir, name, allow_plugins, log_every, quiet, verbose):
    """Train the model CONFIG describes, then evaluate it; write a run directory.

    Exit codes: 0 done, 1 failure, 2 bad usage or config, 3 NaN/inf loss,
    130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
    """
    from cbrun.config import load_config

    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    if runs_dir and run_dir:
        raise click.UsageError("give --runs-dir or --run-dir, not both")
    if name:
        overrides = (*overrides, f"name={name}")
    spec = load_config(config, list(overrides))
    from cbrun.runner import train as run_training

    result = run_training(
        spec,
        sink=_sink(quiet),
        runs_dir=runs_dir,
        run_dir=run_dir,
        allow_plugins=allow_plugins,
        search_paths=[Path(config).resolve().parent, Path.cwd()],
        log_every=log_every,
        verbose=verbose,
    )
    sys.exit(result.exit_code)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@set_option
def validate(config, overrides):
    """Check CONFIG and print it resolved (every default filled in), or its errors."""
    from rich.syntax import Syntax

    from cbrun.config import load_config

    spec = load_config(config, list(overrides))
    console = make_console()
    text = spec.to_yaml()
    if console.is_terminal:
        console.print(Syntax(text, "yaml", background_color="default"))
    else:
        click.echo(text, nl=False)


@cli.command("list-callbacks")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_callbacks(name, as_json):
    """List the callbacks a config may name, or describe the callback NAME."""
    from cbrun.callbacks import listing
    from cbrun.callbacks.catalog import callback_registry

    registry = callback_registry()
    console = make_console()
    if name is None:
        if as_json:
            click.echo(json.dumps([e.to_dict() for e in registry.entries()], indent=2))
        else:
            console.print(listing.table(registry))
        return
    entry = registry.get(name)
    if as_json:
        click.echo(json.dumps(entry.to_dict(), indent=2))
    else:
        listing.show_entry(console, entry)


def main() -> None:
    # Keep TensorFlow's C++ chatter off the console from the very start, unless asked.
    if "--verbose" not in sys.argv and "-v" not in sys.argv:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cli(prog_name="cbrun")
