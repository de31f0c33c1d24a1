"""Learning curves and sweeps as PNGs, with matplotlib's Agg backend (no display needed).

Made to be read: whole-number epoch and trial ticks, log axes with a few labels that
never overlap, a searched choice's values in the order the config gives them, a panel
whose values span more than two decades on a log scale (said in its title), and
titles that name the run, the metric and which way is better.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from cbrun.after.runs import read_history
from cbrun.catalog.metrics import lower_is_better
from cbrun.errors import RunDirError
from cbrun.output.rundir import atomic_write_bytes

PANEL = (4.2, 3.6)  # inches per panel; 100 dpi
DECADES_FOR_LOG = 2  # a panel spanning more than this many powers of ten goes log


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _direction(metric: str) -> str:
    return "lower is better" if lower_is_better(metric) else "higher is better"


def _whole_number_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def _log_scale(axis, which: str, values) -> bool:
    """Put `which` (x or y) on a log scale with at most five labelled ticks, only when
    its positive values span at least a decade; a narrower span stays linear (a log axis
    over less than a decade labels every minor tick, and the labels run together)."""
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, ScalarFormatter

    finite = [v for v in values if v is not None and math.isfinite(v)]
    positive = [v for v in finite if v > 0]
    side = axis.xaxis if which == "x" else axis.yaxis
    if not positive or len(positive) < len(finite) or max(positive) / min(positive) < 10:
        side.set_major_locator(MaxNLocator(nbins=4))
        formatter = ScalarFormatter(useMathText=True)
        formatter.set_powerlimits((-2, 3))
        side.set_major_formatter(formatter)
        return False
    (axis.set_xscale if which == "x" else axis.set_yscale)("log")
    side.set_major_locator(LogLocator(base=10, numticks=5))
    side.set_minor_formatter(NullFormatter())
    return True


def _spans_decades(values) -> bool:
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return len(positive) == len(values) > 1 and max(positive) / min(positive) > 10**DECADES_FOR_LOG


def runs_figure(folders: list[Path]):
    """One panel per metric (train solid, validation dashed, one colour per run), plus
    the learning rate; the epochs as the console numbers them, from 1."""
    plt = _pyplot()
    histories = {}
    for folder in folders:
        rows = read_history(folder)
        if not rows:
            raise RunDirError(f"{folder}: no epochs in history.csv to plot")
        histories[folder.name] = rows
    metrics = []
    for rows in histories.values():
        for key in rows[0]:
            base = key.removeprefix("val_")
            if key not in ("epoch", "learning_rate") and base not in metrics:
                metrics.append(base)
    panels = metrics + ["learning_rate"]
    figure, axes = plt.subplots(
        1, len(panels), figsize=(PANEL[0] * len(panels), PANEL[1]), squeeze=False
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn: dict[str, list] = {metric: [] for metric in panels}
    for index, (name, rows) in enumerate(histories.items()):
        colour = colours[index % len(colours)]
        epochs = [row["epoch"] for row in rows]  # from 1, as history.csv counts
        for axis, metric in zip(axes[0], panels, strict=True):
            for key, style, label in (
                (metric, "-", name),
                (f"val_{metric}", "--", f"{name} (val)"),
            ):
                if metric == "learning_rate" and style == "--":
                    continue
                values = [row.get(key) for row in rows]
                if any(v is not None for v in values):
                    # A one-epoch run is a point: a line of one point would not show.
                    marker = "o" if len(epochs) == 1 else None
                    axis.plot(
                        epochs, values, color=colour, linestyle=style, marker=marker, label=label
                    )
                    drawn[metric].extend(values)
    for axis, metric in zip(axes[0], panels, strict=True):
        _whole_number_ticks(axis)
        if metric == "learning_rate":
            _log_scale(axis, "y", drawn[metric])
            axis.set_title("learning rate", fontsize=10)
        else:
            title = f"{metric} ({_direction(metric)})"
            if _spans_decades(drawn[metric]):
                _log_scale(axis, "y", drawn[metric])
                title += ", log scale"
            axis.set_title(title, fontsize=10)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.get_lines():
            axis.legend(fontsize=7)
    names = list(histories)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    figure.suptitle(shown, fontsize=11)
    return figure


def plot_runs(folders: list[Path], output: Path) -> Path:
    """`runs_figure` written as a PNG at `output` (probed first)."""
    _probe(output)
    return _save_png(runs_figure(folders), output)


def _choices_in_order(xs: list, dimension: dict | None) -> list[str]:
    """The labels of a choice dimension: the config's order, else the order first seen."""
    order = dimension.get("choice") if dimension else None
    labels = [str(x) for x in (order if order else dict.fromkeys(map(str, xs)))]
    return list(dict.fromkeys(labels + [str(x) for x in xs]))


def sweep_figure(folder: Path):
    """A sweep in one figure: the objective by trial with the best so far, then each
    searched parameter against the objective (from `sweep.json`; pruned trials have none)."""
    import json

    plt = _pyplot()
    state = json.loads((Path(folder) / "sweep.json").read_text(encoding="utf-8"))
    done = [t for t in state["trials"] if t["objective"] is not None]
    if not done:
        raise RunDirError(f"{folder}: no finished trial with an objective to plot")
    objective = state["objective"]
    space = state.get("space") or {}  # sweeps written before cbrun kept it have none
    pick = max if objective["mode"] == "max" else min
    params = list(done[0]["params"])
    figure, axes = plt.subplots(
        1, 1 + len(params), figsize=(PANEL[0] * (1 + len(params)), PANEL[1]), squeeze=False
    )
    axes = list(axes[0])
    numbers, values = [t["number"] for t in done], [t["objective"] for t in done]
    best = [pick(values[: i + 1]) for i in range(len(values))]
    axes[0].plot(numbers, values, "o", label="trial")
    axes[0].step(numbers, best, where="post", label="best so far")
    axes[0].set_title(
        f"{objective['monitor']} by trial ({objective['mode']} is better)", fontsize=10
    )
    axes[0].set_xlabel("trial")
    _whole_number_ticks(axes[0])
    axes[0].legend(fontsize=7)
    for axis, name in zip(axes[1:], params, strict=True):
        xs = [t["params"][name] for t in done]
        dimension = space.get(name)
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        if numeric and (dimension is None or "choice" not in dimension):
            axis.plot(xs, values, "o")
            bounds = list((dimension or {}).get("log_uniform", []))
            if bounds or (dimension is None and min(xs) > 0 and max(xs) / min(xs) > 20):
                # The searched range, not only the sampled points: its decades label it.
                if _log_scale(axis, "x", xs + bounds) and bounds:
                    axis.set_xlim(bounds[0] / 1.2, bounds[1] * 1.2)
            if dimension is not None and "integer" in dimension:
                _whole_number_ticks(axis)
        else:
            labels = _choices_in_order(xs, dimension)
            axis.plot([labels.index(str(x)) for x in xs], values, "o")
            axis.set_xticks(range(len(labels)), labels)
            axis.set_xlim(-0.5, len(labels) - 0.5)
        axis.set_title(name, fontsize=8)
        axis.set_ylabel(objective["monitor"], fontsize=8)
    for axis in axes:
        axis.grid(alpha=0.3)
    figure.suptitle(f"sweep {state.get('study', Path(folder).name)}", fontsize=11)
    return figure


def plot_sweep(folder: Path, output: Path) -> Path:
    """`sweep_figure` written as a PNG at `output` (probed first)."""
    _probe(output)
    return _save_png(sweep_figure(folder), output)


def _probe(output: Path) -> None:
    from cbrun.filesystem import probe_file

    probe_file(output, "--output")


def _save_png(figure, output: Path) -> Path:
    """The figure as a PNG at `output`, written atomically; the figure is closed."""
    plt = _pyplot()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output, buffer.getvalue())
    return output
