"""`cbrun diff A B`: two runs (or a run and a config, such as a sweep's `best.yaml`)
side by side: the resolved configs key by key, then the metrics with the change, then
status, epochs, time and versions. Only what differs, unless asked for all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cbrun.catalog.metrics import best_epochs
from cbrun.config.tracking import flat_config
from cbrun.errors import UsageError
from cbrun.output.rundir import CONFIG, RunDir

# What a run records about itself, not what it was asked to do: differs between a run
# and a config always (shown with --all).
RECORDED = ("plugin_paths",)


@dataclass
class Side:
    """One side of a diff: its flat config and, for a run, its results."""

    label: str
    config: dict
    origins: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)


def flatten(config: dict) -> dict:
    """Every key of a config, dotted, lists as JSON text (as the trackers show them)."""
    return flat_config(config, skip=(), keep_none=True)


def _metrics(summary, history: list[dict]) -> dict:
    found = {f"final {k}": v for k, v in (summary.train or {}).items()}
    found.update({f"best {k}": v for k, (_, v) in best_epochs(history).items()})
    found.update({f"evaluate {k}": v for k, v in (summary.evaluate or {}).items()})
    return found


def read_side(path: Path) -> Side:
    """A run folder (its config.yaml and summary.json) or a config file."""
    from cbrun.after.runs import read_history

    path = Path(path)
    if path.is_dir():
        run = RunDir.open(path, finished=False)
        config = yaml.safe_load(run.file(CONFIG).read_text(encoding="utf-8"))
        summary = run.summary()
        history = [{**row, "epoch": row["epoch"] - 1} for row in read_history(run.path)]
        facts = {
            "status": summary.status.value,
            "epochs": summary.epochs_run,
            "seconds": round(summary.seconds.total, 1),
            **{f"{package} version": v for package, v in summary.versions.items()},
        }
        return Side(path.name, flatten(config), summary.origins, _metrics(summary, history), facts)
    if path.is_file():
        from cbrun.config.loading import load_config

        spec = load_config(path)
        config = yaml.safe_load(spec.to_yaml())  # as a run's config.yaml records it
        return Side(path.name, flatten(config), spec._origins)
    raise UsageError(f"{path}: neither a run folder nor a config file")


def _change(a, b):
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    return b - a if numbers else None


def diff(a: Path, b: Path, *, everything: bool = False) -> dict:
    """The comparison as plain data (what `--json` prints)."""
    left, right = read_side(a), read_side(b)
    config = []
    for key in sorted(set(left.config) | set(right.config)):
        va, vb = left.config.get(key), right.config.get(key)
        if everything or (va != vb and key.split(".")[0] not in RECORDED):
            origins = {s: o.get(key) for s, o in (("a", left.origins), ("b", right.origins))}
            config.append({"key": key, "a": va, "b": vb, "origins": origins})
    metrics = []
    for key in dict.fromkeys([*left.metrics, *right.metrics]):
        va, vb = left.metrics.get(key), right.metrics.get(key)
        metrics.append({"metric": key, "a": va, "b": vb, "change": _change(va, vb)})
    run = []
    for key in dict.fromkeys([*left.run, *right.run]):
        va, vb = left.run.get(key), right.run.get(key)
        if everything or va != vb or key in ("status", "epochs", "seconds"):
            run.append({"what": key, "a": va, "b": vb})
    return {"a": left.label, "b": right.label, "config": config, "metrics": metrics, "run": run}


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _signed(value) -> str:
    return "" if value is None else f"{value:+.4g}"


def markdown(result: dict) -> str:
    """The comparison as GitHub Markdown tables (for a CI comment)."""
    a, b = result["a"], result["b"]
    lines = [f"### {a} → {b}", "", f"| key | {a} | {b} |", "| --- | --- | --- |"]
    lines += [f"| `{r['key']}` | {_text(r['a'])} | {_text(r['b'])} |" for r in result["config"]]
    if result["metrics"]:
        lines += ["", f"| metric | {a} | {b} | change |", "| --- | ---: | ---: | ---: |"]
        lines += [
            f"| {r['metric']} | {_text(r['a'])} | {_text(r['b'])} | {_signed(r['change'])} |"
            for r in result["metrics"]
        ]
    lines += ["", f"| run | {a} | {b} |", "| --- | --- | --- |"]
    lines += [f"| {r['what']} | {_text(r['a'])} | {_text(r['b'])} |" for r in result["run"]]
    return "\n".join(lines) + "\n"


def tables(result: dict) -> list:
    """Rich tables of the comparison: config, metrics, run; each fits 80 columns (values
    fold inside their cells, numbers are never cut)."""
    from rich.table import Table

    a, b = result["a"], result["b"]
    config = Table(title="config", box=None, title_justify="left")
    for name in ("key", a, b):
        config.add_column(name, overflow="fold")
    for row in result["config"]:
        cells = []
        for side in ("a", "b"):
            origin = row["origins"].get(side)
            shown = _text(row[side])
            cells.append(f"{shown} ({origin})" if origin and origin.startswith("--set") else shown)
        config.add_row(row["key"], *cells)
    if not result["config"]:
        config.add_row("(the same)", "", "")
    metrics = Table(title="metrics", box=None, title_justify="left")
    metrics.add_column("metric", overflow="fold")
    for name in (a, b, "change"):
        metrics.add_column(name, justify="right", no_wrap=True)
    for row in result["metrics"]:
        metrics.add_row(row["metric"], _text(row["a"]), _text(row["b"]), _signed(row["change"]))
    run = Table(title="run", box=None, title_justify="left")
    for name in ("", a, b):
        run.add_column(name, overflow="fold")
    for row in result["run"]:
        run.add_row(row["what"], _text(row["a"]), _text(row["b"]))
    return [config, metrics, run] if result["metrics"] else [config, run]
