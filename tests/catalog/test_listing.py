"""`cbrun list-callbacks`: unusable callbacks marked with why, docstrings as Markdown."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markdown import Markdown

from cbrun.catalog.callbacks import callback_registry
from cbrun.catalog.listing import docstring_markdown, show_entry, table

UNUSABLE = ("BackupAndRestore", "LambdaCallback", "RemoteMonitor")


def rendered(renderable_or_entry, width=100) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    if hasattr(renderable_or_entry, "arguments"):
        show_entry(console, renderable_or_entry)
    else:
        console.print(renderable_or_entry)
    return console.export_text()


def test_the_table_marks_each_unusable_callback_with_why():
    text = rendered(table(callback_registry()), width=140)
    for name in UNUSABLE:
        assert f"{name} ✗" in text
    assert text.count("not usable from a config:") == len(UNUSABLE)
    assert "EarlyStopping ✗" not in text
    assert "which YAML cannot hold" in text  # LambdaCallback's reason, whole


def test_an_unusable_callback_shows_why_and_no_snippet():
    text = rendered(callback_registry().get("BackupAndRestore"))
    assert "not usable from a config: cbrun makes every run resumable" in text
    assert "callbacks:" not in text and "- name: BackupAndRestore" not in text
    usable = rendered(callback_registry().get("EarlyStopping"))
    assert "- name: EarlyStopping" in usable


def test_a_keras_docstring_renders_as_markdown():
    doc = callback_registry().get("BackupAndRestore").doc
    markdown = docstring_markdown(doc)
    assert "```python\n>>> class InterruptingCallback" in markdown
    assert "- `backup_dir`: String, path of directory" in markdown
    text = rendered(Markdown(markdown))
    assert "▌" not in text  # `>>>` read as nested block quotes, before
    assert "• backup_dir: String, path of directory where to store the data" in text
    # Each argument is its own item: no two run together on one line.
    assert not any("save_freq" in line and "backup_dir" in line for line in text.splitlines())


def test_docstring_markdown_keeps_fences_and_ends_open_blocks():
    doc = (
        "Summary.\n\nExample:\n\n```python\nx = 1\n```\n\n>>> y = 2\n\n"
        "Args:\n    a: first,\n        continued.\n    b (int): second.\n"
    )
    assert docstring_markdown(doc).splitlines() == [
        "Summary.",
        "",
        "",
        "**Example**",
        "",
        "",
        "```python",
        "x = 1",
        "```",
        "",
        "```python",
        ">>> y = 2",
        "```",
        "",
        "",
        "**Args**",
        "",
        "- `a`: first, continued.",
        "- `b` (int): second.",
    ]
