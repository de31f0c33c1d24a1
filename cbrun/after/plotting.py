"""Learning curves as a PNG, with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import io
from pathlib import Path

from cbrun.after.runs import read_history
from cbrun.errors import RunDirError
from cbrun.output.rundir import atomic_write_bytes


def plot_runs(folders: list[Path], output: Path) -> Path:
    """One panel per metric (train solid, validation dashed, one colour per run),
    plus the learning rate on its own (log) axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, rows) in enumerate(histories.items()):
        colour = colours[index % len(colours)]
        epochs = [row["epoch"] + 1 for row in rows]
        for axis, metric in zip(axes[0], panels, strict=True):
            if metric == "learning_rate":
                values = [row.get("learning_rate") for row in rows]
                if all(v is not None for v in values):
                    axis.plot(epochs, values, color=colour, label=name)
                    axis.set_yscale("log")
                continue
            if metric in rows[0]:
                axis.plot(epochs, [r[metric] for r in rows], color=colour, label=f"{name}")
            if f"val_{metric}" in rows[0]:
                axis.plot(
                    epochs,
                    [r[f"val_{metric}"] for r in rows],
                    color=colour,
                    linestyle="--",
                    label=f"{name} (val)",
                )
    for axis, metric in zip(axes[0], panels, strict=True):
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return _save_png(figure, output)


def plot_sweep(folder: Path, output: Path) -> Path:
    """A sweep in one PNG: the objective by trial with the best so far, then each searched
    parameter against the objective (from `sweep.json`; pruned trials have none)."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    state = json.loads((Path(folder) / "sweep.json").read_text(encoding="utf-8"))
    done = [t for t in state["trials"] if t["objective"] is not None]
    if not done:
        raise RunDirError(f"{folder}: no finished trial with an objective to plot")
    pick = max if state["objective"]["mode"] == "max" else min
    params = list(done[0]["params"])
    figure, axes = plt.subplots(1, 1 + len(params), figsize=(4.2 * (1 + len(params)), 3.6))
    axes = list(axes) if len(params) else [axes]
    numbers, values = [t["number"] for t in done], [t["objective"] for t in done]
    best = [pick(values[: i + 1]) for i in range(len(values))]
    axes[0].plot(numbers, values, "o", label="trial")
    axes[0].step(numbers, best, where="post", label="best so far")
    axes[0].set_title(state["objective"]["monitor"])
    axes[0].set_xlabel("trial")
    axes[0].legend(fontsize=7)
    for axis, name in zip(axes[1:], params, strict=True):
        xs = [t["params"][name] for t in done]
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        axis.plot(xs if numeric else [str(x) for x in xs], values, "o")
        if numeric and min(xs) > 0 and max(xs) / min(xs) > 20:
            axis.set_xscale("log")
        axis.set_title(name, fontsize=8)
    for axis in axes:
        axis.grid(alpha=0.3)
    return _save_png(figure, output)


def _save_png(figure, output: Path) -> Path:
    """The figure as a PNG at `output`, written atomically; the figure is closed."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output, buffer.getvalue())
    return output
