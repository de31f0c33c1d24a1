"""What the commands show: results, predictions, runs and traces as rich renderables.

No TensorFlow here; the CLI imports this module only in the commands that print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.columns import Columns
from rich.console import Console
from rich.table import Table


def results_table(title: str, results: dict) -> Table:
    """Metric names and values, four decimals."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, f"{value:.4f}")
    return table


def predictions_table(run_name: str, items: list[dict]) -> Table:
    """Index, true label, prediction (marked ✗ when wrong) and confidence."""
    table = Table(title=f"predictions of {run_name}")
    for column in ("index", "label", "prediction", "confidence"):
        table.add_column(column, justify="right")
    for item in items:
        confidence = "-" if item["confidence"] is None else f"{item['confidence']:.3f}"
        mark = "" if item["prediction"] == item["label"] else " ✗"
        # An image folder's class names where it has them, else the label numbers.
        label = item.get("label_name", str(item["label"]))
        prediction = item.get("prediction_name", str(item["prediction"]))
        table.add_row(str(item["index"]), label, f"{prediction}{mark}", confidence)
    return table


def digit(image) -> str:
    """A 28x28 image drawn with half blocks: two pixel rows per text row."""
    pixels = np.asarray(image).reshape(28, 28)
    rows = []
    for top, bottom in zip(pixels[0::2], pixels[1::2], strict=True):
        rows.append(
            "".join(" ▄▀█"[(t > 0.5) * 2 + (b > 0.5)] for t, b in zip(top, bottom, strict=True))
        )
    return "\n".join(rows)


def digits(images) -> Columns:
    return Columns([f"{digit(image)}\n#{i}" for i, image in enumerate(images)])


@dataclass
class Column:
    """A table column: its header, its cells, and how soon it gives way to a narrow
    console (priority 1 stays; higher numbers go first)."""

    header: str
    cells: list[str]
    priority: int = 1
    justify: str = "left"


def fitted_table(title: str, columns: list[Column], console: Console, wide: bool = False):
    """A table of the columns that fit the console, by priority; no cell is ever cut
    (a column that would have to be cut is left out, and the caption says so).
    `wide` keeps every column. Returns the table and the width to print it at (set
    `console.width` to it: rich never prints wider than the console)."""

    def build(chosen, fold_first=False):
        # No outer border: two more columns for the cells, which matters at 80.
        table = Table(title=title, show_edge=False)
        for column in chosen:
            # Only the run's name may fold onto more lines, and only when even the first
            # columns are wider than the console; numbers never are.
            fold = fold_first and column is columns[0]
            table.add_column(
                column.header,
                justify=column.justify,
                no_wrap=not fold,
                overflow="fold" if fold else "ellipsis",
            )
        for index in range(len(columns[0].cells)):
            table.add_row(*(column.cells[index] for column in chosen))
        return table

    def natural_width(table) -> int:
        return console.measure(table, options=console.options.update(width=10_000)).maximum

    if wide:
        table = build(columns)
        return table, max(console.width, natural_width(table))
    shown = list(columns)
    for priority in sorted({column.priority for column in columns}, reverse=True):
        if priority == 1 or natural_width(build(shown)) <= console.width:
            break
        shown = [column for column in shown if column.priority < priority]
    table = build(shown, fold_first=natural_width(build(shown)) > console.width)
    left_out = [column.header.replace("\n", " ") for column in columns if column not in shown]
    if left_out:
        table.caption = f"not shown at {console.width} columns: {', '.join(left_out)} (--wide)"
    return table, console.width


def _headline(rows: list[dict]) -> list[str | None]:
    """Each run's headline metric: validation accuracy first, then accuracy, then losses."""
    return [
        next((k for k in ("val_accuracy", "accuracy", "val_loss", "loss") if k in final), None)
        for final in ((row.get("final") or {}) for row in rows)
    ]


def runs_table(runs_dir: Path, rows: list[dict], console: Console, wide: bool = False):
    """One row per run: name, status, epochs, the best headline metric and the time
    first; the final value, the evaluation and the start when there is room.
    Returns the table and the width to print it at (see `fitted_table`)."""
    metrics = _headline(rows)
    keys = ["accuracy" if "accuracy" in (row.get("evaluate") or {}) else "loss" for row in rows]
    same = len(set(metrics)) <= 1 and len(set(keys)) <= 1
    # One metric for every run: it goes in the headers (on a line of its own, to keep
    # the column narrow), and the cells are numbers alone.
    label = (lambda name: "") if same else (lambda name: f"{name} ")

    def value(source: dict, name):
        return f"{label(name)}{_number(source[name])}" if name in source else "-"

    seconds = [row.get("seconds") for row in rows]
    metric = metrics[0] if same and metrics and metrics[0] else None
    key = keys[0] if same and keys else None
    columns = [
        Column("run", [Path(row["path"]).name for row in rows]),
        Column("status", [row["status"] for row in rows]),
        Column("epochs", [str(row.get("epochs", "")) for row in rows], justify="right"),
        Column(
            f"best\n{metric}" if metric else "best",
            [value(row.get("best") or {}, m) for row, m in zip(rows, metrics, strict=True)],
            justify="right",
        ),
        Column("time", [_duration(s) for s in seconds], justify="right"),
        Column(
            f"final\n{metric}" if metric else "final",
            [value(row.get("final") or {}, m) for row, m in zip(rows, metrics, strict=True)],
            priority=2,
            justify="right",
        ),
        Column(
            f"evaluate\n{key}" if key else "evaluate",
            [value(row.get("evaluate") or {}, k) for row, k in zip(rows, keys, strict=True)],
            priority=3,
            justify="right",
        ),
        Column("started", [_started(row.get("started")) for row in rows], priority=4),
    ]
    return fitted_table(f"runs in {runs_dir}", columns, console, wide)


def _duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{rest:02d}s"


def _started(value) -> str:
    """`2026-12-03T11:46:11+0000` as `2026-12-03 11:46`."""
    return str(value)[:16].replace("T", " ") if value else "-"


def _number(value) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else str(value)


def print_trace(console: Console, tracer) -> None:
    """The hook timeline (the first 100 and last 20 events) and the per-hook table."""
    events = tracer.events
    shown = events if len(events) <= 120 else events[:100] + [None] + events[-20:]
    for event in shown:
        if event is None:
            console.print(f"... {len(events) - 120} more in trace.jsonl ...")
            continue
        index = "" if event["index"] is None else f" {event['index']}"
        spent = ", ".join(f"{k} {v * 1000:.2f}ms" for k, v in event["callbacks"].items())
        console.print(
            f"{event['t']:10.4f}s  {event['hook']}{index}" + (f"  [{spent}]" if spent else "")
        )
    table = Table(title="time in callbacks, per hook")
    for column in ("hook", "calls", "total ms", "mean ms"):
        table.add_column(column, justify="right" if column != "hook" else "left")
    for row in tracer.table():
        table.add_row(
            row["hook"],
            str(row["calls"]),
            f"{row['total'] * 1000:.2f}",
            f"{row['mean'] * 1000:.3f}",
        )
    console.print(table)


def sweep_table(folder: Path, rows: list[dict], console: Console, wide: bool = False):
    """A sweep's trials ranked: trial, objective, status, epochs and time first, then one
    column per searched parameter when there is room. Returns the table and its width."""
    names = list(dict.fromkeys(name for row in rows for name in (row["params"] or {})))
    columns = [
        Column("trial", [str(row["number"]) for row in rows], justify="right"),
        Column(
            "objective",
            [_number(r["objective"]) if r["objective"] is not None else "-" for r in rows],
            justify="right",
        ),
        Column("status", [row["status"] for row in rows]),
        Column("epochs", [str(row.get("epochs", "")) for row in rows], justify="right"),
        Column("time", [_duration(row.get("seconds")) for row in rows], justify="right"),
    ]
    for name in names:
        cells = [_param((row["params"] or {}).get(name, "-")) for row in rows]
        columns.append(Column(name.split(".")[-1], cells, priority=2, justify="right"))
    return fitted_table(f"trials of {folder}", columns, console, wide)


def _param(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)
