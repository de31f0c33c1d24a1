"""What the commands show: results, predictions, runs and traces as rich renderables.

No TensorFlow here; the CLI imports this module only in the commands that print.
"""

from __future__ import annotations

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
        table.add_row(
            str(item["index"]), str(item["label"]), f"{item['prediction']}{mark}", confidence
        )
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


def runs_table(runs_dir: Path, rows: list[dict]) -> Table:
    """One row per run: status, epochs, the final and best headline metric, evaluate, time."""
    table = Table(title=f"runs in {runs_dir}")
    width = max((len(Path(row["path"]).name) for row in rows), default=3)
    table.add_column("run", no_wrap=True, min_width=width)
    statuses = max((len(row["status"]) for row in rows), default=6)
    table.add_column("status", no_wrap=True, min_width=statuses)
    for column in ("epochs", "final", "best", "evaluate", "time"):
        table.add_column(column)
    for row in rows:
        final, best = row.get("final") or {}, row.get("best") or {}
        metric = next(
            (k for k in ("val_accuracy", "accuracy", "val_loss", "loss") if k in final), None
        )
        evaluation = row.get("evaluate") or {}
        key = "accuracy" if "accuracy" in evaluation else "loss"
        seconds = row.get("seconds")
        table.add_row(
            Path(row["path"]).name,
            row["status"],
            str(row.get("epochs", "")),
            f"{metric} {_number(final[metric])}" if metric else "-",
            _number(best[metric]) if metric in best else "-",
            f"{key} {_number(evaluation[key])}" if key in evaluation else "-",
            f"{seconds:.1f}s" if isinstance(seconds, (int, float)) else "-",
        )
    return table


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


def sweep_table(folder: Path, rows: list[dict]) -> Table:
    """A sweep's trials ranked: objective, params, status, epochs, time."""
    table = Table(title=f"trials of {folder}")
    for column in ("trial", "objective", "params", "status", "epochs", "time"):
        table.add_column(column)
    for row in rows:
        params = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in (row["params"] or {}).items())
        seconds = row.get("seconds")
        table.add_row(
            str(row["number"]),
            _number(row["objective"]) if row["objective"] is not None else "-",
            params,
            row["status"],
            str(row.get("epochs", "")),
            f"{seconds:.1f}s" if isinstance(seconds, (int, float)) else "-",
        )
    return table
