"""How the callback registry shows itself: a table, and one entry in full."""

from __future__ import annotations

import yaml
from rich.console import Console
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.table import Table

from cbrun.catalog.registry import Entry, Registry


def table(registry: Registry) -> Table:
    """Name, origin, summary and hooks of every entry."""
    out = Table(title="callbacks a config may name", show_lines=False)
    out.add_column("name", style="bold", no_wrap=True)
    out.add_column("origin")
    out.add_column("summary")
    out.add_column("hooks")
    for entry in registry.entries():
        summary = entry.summary
        if entry.unavailable:
            summary = f"[unavailable from YAML] {summary}"
        hooks = ", ".join(h.removeprefix("on_") for h in entry.hooks)
        out.add_row(entry.name, entry.origin, summary, hooks)
    return out


def snippet(entry: Entry) -> str:
    """A ready-to-paste YAML entry with the required arguments and the defaults."""
    args = {}
    for argument in entry.arguments:
        args[argument.name] = "<required>" if argument.required else argument.default
    item = {"name": entry.name}
    if args:
        item["args"] = args
    item["phases"] = list(entry.phases)
    return yaml.safe_dump({"callbacks": [item]}, sort_keys=False, default_flow_style=False)


def show_entry(console: Console, entry: Entry) -> None:
    console.print(f"[bold]{entry.name}[/bold]  ({entry.origin})  {entry.summary}")
    if entry.unavailable:
        console.print(f"[red]not usable from a config:[/red] {entry.unavailable}")
    args = Table(title="arguments")
    for column in ("name", "type", "default"):
        args.add_column(column)
    for argument in entry.arguments:
        default = "required" if argument.required else repr(argument.default)
        kind = argument.type + (f" ({', '.join(argument.choices)})" if argument.choices else "")
        args.add_row(argument.name, kind, default)
    console.print(args)
    console.print(f"hooks: {', '.join(entry.hooks) or 'none'}")
    console.print(f"phases: {', '.join(entry.phases)}")
    if entry.doc:
        console.print(Markdown(entry.doc))
    console.print(Syntax(snippet(entry), "yaml", background_color="default"))
