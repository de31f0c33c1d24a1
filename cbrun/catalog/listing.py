"""How the callback registry shows itself: a table, and one entry in full."""

from __future__ import annotations

import re
import textwrap

import yaml
from rich.console import Console
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from cbrun.catalog.registry import Entry, Registry


def table(registry: Registry) -> Table:
    """Name, origin, summary and hooks of every entry; one that a config cannot use is
    marked so, with why, in its summary."""
    out = Table(title="callbacks a config may name", show_lines=False)
    out.add_column("name", no_wrap=True)
    out.add_column("origin")
    out.add_column("summary")
    out.add_column("hooks")
    for entry in registry.entries():
        # Text, not markup: a summary's brackets are never read as rich styles.
        name, summary = Text(entry.name, style="bold"), Text(entry.summary)
        if entry.unavailable:
            name = Text(f"{entry.name} ✗", style="dim")
            summary.append(f"\nnot usable from a config: {entry.unavailable}", style="red")
        hooks = ", ".join(h.removeprefix("on_") for h in entry.hooks)
        out.add_row(name, entry.origin, summary, hooks)
    return out


SECTION = re.compile(
    r"^(Args|Arguments|Returns|Raises|Examples?|Notes?|Call arguments|Input shape|"
    r"Output shape|References?):\s*$"
)
LISTED = ("Args", "Arguments", "Raises", "Call arguments")


def docstring_markdown(doc: str) -> str:
    """A Keras (Google-style) docstring as Markdown: sections as bold headings, the
    `Args:` entries as a list, doctest lines (`>>>`, `...`) as a Python code block."""
    out: list[str] = []
    lines = textwrap.dedent(doc).strip("\n").splitlines()
    section, fenced, doctest = None, False, False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            out.append(stripped)
            continue
        if fenced:
            out.append(line)
            continue
        is_doctest = stripped.startswith((">>>", "..."))
        if is_doctest != doctest:
            out.append("```python" if is_doctest else "```")
            doctest = is_doctest
        if is_doctest:
            out.append(stripped)
            continue
        header = SECTION.match(stripped) if line == stripped else None
        if header:
            section = header.group(1)
            out.extend(["", f"**{section}**", ""])
            continue
        if section in LISTED and line.startswith(" ") and stripped:
            item = re.match(r"^ {2,4}(\*{0,2}\w+)(\s*\([^)]*\))?:\s*(.*)$", line)
            if item:
                out.append(f"- `{item.group(1)}`{item.group(2) or ''}: {item.group(3)}")
            elif out and out[-1].startswith("- "):
                out[-1] += " " + stripped  # a continuation of the entry above
            else:
                out.append(stripped)
            continue
        if line and not line.startswith(" "):
            section = None
        out.append(line)
    if doctest:
        out.append("```")
    return "\n".join(out)


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
        console.print(Markdown(docstring_markdown(entry.doc)))
    if entry.unavailable:
        return  # no snippet to paste for what a config cannot use
    console.print(Syntax(snippet(entry), "yaml", background_color="default"))
