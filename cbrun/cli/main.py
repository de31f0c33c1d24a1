"""The `cbrun` command line: thin commands over the click-free core.

One place (`CbrunGroup.invoke`, through `cli/boundary.py`) turns every failure into
`Error: ...` lines on stderr and an exit code: a `CbrunError` its own, an `OSError`
1 with the path and reason, Ctrl-C 130, a bug 1 with the file holding its traceback.
This module must not import TensorFlow: `--help`, `validate` and
`list-callbacks` answer before it would have loaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cbrun import __version__
from cbrun.backend import set_verbose
from cbrun.catalog.limits import MAX_PREDICT, MAX_STEPS
from cbrun.cli import boundary, modes, results
from cbrun.cli import sweep as sweep_commands
from cbrun.cli.options import (
    allow_plugin_option,
    make_console,
    make_sink,
    set_option,
    track_option,
    verbose_option,
)


class CbrunGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Ctrl-C outside a training loop (which handles its own): the shell's code,
            # not click's "Aborted!" with exit 1.
            click.echo("Error: interrupted", err=True)
            ctx.exit(130)
        except Exception as error:  # noqa: BLE001 - the one boundary (cli/boundary.py)
            if boundary.is_click_own(error):
                raise
            ctx.exit(boundary.handle(error, self.commands.get(ctx.invoked_subcommand or "")))


@click.group(cls=CbrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cbrun")
def cli():
    """Train Keras models from a YAML file: data, model, fit and callbacks by name."""


@cli.command()
@click.argument("config", type=click.Path(path_type=Path), required=False)
@set_option
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Continue an unfinished run in place, from its last checkpoint. CONFIG may be left "
    "out (the run's own config is used) or differ only by a larger fit.epochs.",
)
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
@allow_plugin_option
@click.option(
    "--log-every",
    type=click.IntRange(min=1, max=MAX_STEPS),
    metavar="N",
    help="A batch line every N steps (default: about every logging.seconds).",
)
@track_option
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the final summary.")
@click.option("--verbose", "-v", is_flag=True, help="Every batch; TensorFlow's start-up lines.")
def train(
    config,
    overrides,
    resume,
    runs_dir,
    run_dir,
    name,
    allow_plugins,
    log_every,
    track,
    quiet,
    verbose,
):
    """Train the model CONFIG describes, then evaluate it; write a run directory.

    Exit codes: 0 done, 1 failure, 2 bad usage or config, 3 NaN/inf loss,
    130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
    """
    from cbrun import api

    modes.refuse_conflicts()
    if runs_dir and run_dir:
        raise click.UsageError("give --runs-dir or --run-dir, not both")
    if config is None and resume is None:
        raise click.UsageError("give a CONFIG, or --resume RUN_DIR")
    from cbrun.run.multi_worker import supervise_this_command

    named = [*overrides, *([f"name={name}"] if name else [])]
    supervise_this_command(config, resume, named, allow_plugins)
    run = api.train(
        config,
        overrides,
        run_dir=run_dir,
        runs_dir=runs_dir,
        name=name,
        resume=resume,
        quiet=quiet,
        allow_plugins=allow_plugins,
        log_every=log_every,
        verbose=verbose,
        console=make_console(),
        track=track,
    )
    sys.exit(run.exit_code)


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@set_option
@click.option(
    "--origins",
    is_flag=True,
    help="Print each value the config sets with where it was set: file:line:col (in "
    "whichever file of an extends: chain) or the --set that set it.",
)
@allow_plugin_option
def validate(config, overrides, origins, allow_plugins):
    """Check CONFIG and print it resolved, every default filled in (the arguments of
    callbacks, the model, its layers, the optimizer, loss and metrics too), or its errors."""
    from rich.syntax import Syntax

    from cbrun.config import composition
    from cbrun.config import source as config_source
    from cbrun.config.loading import load_config

    spec = load_config(config, list(overrides), allow_plugins)
    if origins:
        doc = config_source.load_document(config, list(overrides))
        for path, value, where in composition.origins(doc):
            click.echo(f"{path} = {json.dumps(value)}  # {where}")
        return
    console = make_console()
    text = spec.to_yaml(argument_defaults=True)
    if console.is_terminal:
        console.print(Syntax(text, "yaml", background_color="default"))
    else:
        click.echo(text, nl=False)


@cli.command("list-callbacks")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_callbacks(name, as_json):
    """List the callbacks a config may name, or describe the callback NAME."""
    from cbrun.catalog import listing
    from cbrun.catalog.callbacks import callback_registry

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


@cli.command()
def schema():
    """Print the JSON Schema of a config: every section, and the arguments of every
    callback, model, layer, optimizer, loss and metric, with defaults and descriptions.

    Save it (`cbrun schema > cbrun.schema.json`) and point an editor at it with a first
    line `# yaml-language-server: $schema=cbrun.schema.json` for completion and checks.
    """
    from cbrun.config.json_schema import json_schema

    click.echo(json.dumps(json_schema(), indent=1, sort_keys=True))


@cli.command("check-plugin")
@click.argument("target", metavar="PATH_OR_MODULE")
@click.option(
    "--diff",
    is_flag=True,
    help="Print a unified diff of the mechanical fixes on stdout (the findings go to "
    "stderr); nothing is written.",
)
@click.pass_context
def check_plugin(ctx, target, diff):
    """Report what in a plugin's source breaks on Keras 3, TensorFlow 2.16+ or NumPy 2.

    Reads PATH_OR_MODULE (a .py file, or a module found as `import` would) with
    Python's parser: nothing is imported or run. One line per finding.

    Exit codes: 0 nothing breaks (notes may be printed), 1 findings, 2 the file
    cannot be found, read or parsed.
    """
    from cbrun.build.plugins import resolve_target
    from cbrun.migrate.checker import check_file, fix_diff

    path = resolve_target(target, [Path.cwd()])
    findings = check_file(path)
    for finding in findings:
        click.echo(str(finding), err=diff)
    if diff:
        click.echo(fix_diff(path), nl=False)
    errors = sum(f.severity == "error" for f in findings)
    notes = len(findings) - errors
    click.echo(f"{path}: {errors} to change, {notes} notes", err=True)
    ctx.exit(1 if errors else 0)


@cli.command()
@click.argument("target", metavar="RUN_DIR|CONFIG", type=click.Path(path_type=Path))
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    help="The .keras model to evaluate. Defaults to RUN_DIR/model.keras.",
)
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@allow_plugin_option
@verbose_option
def evaluate(target, model, overrides, as_json, allow_plugins, verbose):
    """Evaluate a trained model on the test split, with the evaluate-phase callbacks.

    Loads the model with Keras's safe mode on (a Lambda layer or an .h5 file is
    refused) and writes evaluate.json into the run directory.
    """
    from cbrun.after import views
    from cbrun.after.inference import evaluate as run_evaluate
    from cbrun.after.inference import evaluation_target

    run, spec, model_path = evaluation_target(target, overrides, model)
    sink = make_sink(quiet=as_json)
    results = run_evaluate(
        spec,
        model_path,
        sink=sink,
        run=run,
        allow_plugins=allow_plugins,
        search_paths=[target.resolve().parent, Path.cwd()],
    )
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        sink.line(f"model: {model_path}")
        sink.console.print(views.results_table("evaluate", results))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--count",
    "-n",
    type=click.IntRange(min=1, max=MAX_PREDICT),
    default=8,
    show_default=True,
    help="How many test images to predict.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON.")
@verbose_option
def predict(run_dir, count, as_json, verbose):
    """Predict the first test images with a run's model; the predict hooks fire."""
    from cbrun.after import views
    from cbrun.after.inference import open_run
    from cbrun.after.inference import predict as run_predict

    run, spec = open_run(run_dir)
    sink = make_sink(quiet=as_json)
    items, images = run_predict(run, spec, sink=sink, count=count, search_paths=[Path.cwd()])
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    sink.console.print(views.predictions_table(run.path.name, items))
    if sink.console.is_terminal and images[0].size == 28 * 28:
        sink.console.print(views.digits(images))


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--batches",
    is_flag=True,
    help="Trace batch hooks too. Overriding them makes Keras call every callback "
    "synchronously after each step (and keeps steps_per_execution at 1), so the "
    "run is slower than an untraced one.",
)
@set_option
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    help="Parent folder of the run folder. Defaults to output.runs_dir (runs/).",
)
@allow_plugin_option
@verbose_option
def trace(config, batches, overrides, runs_dir, allow_plugins, verbose):
    """Run CONFIG (fit, evaluate, predict) recording every hook call in order, with
    its time and each callback's share; writes trace.jsonl in the run directory."""
    from cbrun.after import views
    from cbrun.config.loading import load_config
    from cbrun.run.runner import train as run_training

    spec = load_config(config, list(overrides), allow_plugins)
    if batches:
        spec = spec.model_copy(
            update={"fit": spec.fit.model_copy(update={"steps_per_execution": 1})}
        )
    result = run_training(
        spec,
        sink=make_sink(quiet=True),
        runs_dir=runs_dir,
        allow_plugins=allow_plugins,
        search_paths=[Path(config).resolve().parent, Path.cwd()],
        trace_batches=batches,
    )
    views.print_trace(make_console(), result.tracer)
    click.echo(f"trace: {result.run_dir / 'trace.jsonl'}")
    sys.exit(result.exit_code)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default="cbrun.yaml", required=False)
@click.option(
    "--model",
    metavar="NAME",
    default="mlp",
    show_default=True,
    help="The model to start from: linear, mlp, cnn, or a keras.applications architecture "
    "(MobileNetV3Small, ResNet50, ...: transfer learning, with --dataset image_folder).",
)
@click.option(
    "--dataset",
    type=click.Choice(["mnist", "fashion_mnist", "arrays", "image_folder"]),
    default="mnist",
    show_default=True,
    help="The data (arrays: also writes PATH_arrays.npz from the bundled sample; "
    "image_folder: PATH_images/, RGB PNG files of three digits).",
)
@click.option("--callbacks", metavar="NAME,...", default="", help="Callbacks by name.")
@click.option("--example", metavar="NAME", help="A copy of a shipped config instead.")
def init(path, model, dataset, callbacks, example):
    """Write a first config to PATH (default cbrun.yaml), commented, that validates and
    trains as written, with its JSON Schema beside it; or --example NAME, a shipped
    config (early_stop, sweep_mlp ...). Never overwrites."""
    from cbrun.config.starter import write_starter

    modes.refuse_conflicts()
    names = [name.strip() for name in callbacks.split(",") if name.strip()]
    written = write_starter(path, model=model, dataset=dataset, callbacks=names, example=example)
    click.echo(f"wrote {', '.join(map(str, written))}; next: cbrun train {path}")


cli.add_command(sweep_commands.sweep)
for command in (results.runs, results.plot, results.track, results.export, results.diff):
    cli.add_command(command)


def main() -> None:
    # Keep TensorFlow's C++ chatter off the console from the very start, unless asked:
    # whichever module loads Keras first, it does so through the quiet loader.
    set_verbose("--verbose" in sys.argv or "-v" in sys.argv)
    cli(prog_name="cbrun")
