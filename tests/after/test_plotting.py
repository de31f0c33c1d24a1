"""Learning curves drawn into a real PNG from history.csv alone."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from cbrun.after.plotting import plot_runs
from cbrun.errors import RunDirError


def _history(folder, text):
    folder.mkdir()
    (folder / "history.csv").write_text(text)
    return folder


def test_one_panel_per_metric_plus_the_learning_rate(tmp_path):
    a = _history(
        tmp_path / "a", "epoch,learning_rate,loss,mae,val_loss\n0,0.1,1,2,1.5\n1,0.05,0.5,1,0.9\n"
    )
    b = _history(
        tmp_path / "b", "epoch,learning_rate,loss,mae\n0,0.1,2,3\n1,0.1,1,2\n2,0.1,0.5,1\n"
    )
    out = plot_runs([a, b], tmp_path / "out" / "curves.png")
    pixels = matplotlib.image.imread(out)
    assert pixels.shape[:2] == (360, 3 * 420)  # loss, mae, learning_rate
    assert float(np.var(pixels[..., :3])) > 0.005  # curves, not a blank canvas
    assert not list(out.parent.glob(".*tmp-*"))


def test_a_run_without_epochs_is_refused(tmp_path):
    empty = _history(tmp_path / "empty", "epoch,learning_rate,loss\n")
    with pytest.raises(RunDirError, match="no epochs in history.csv to plot"):
        plot_runs([empty], tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()


# -- made to be read (issue 23): checked on matplotlib's own objects -----------------


def _visible_labels(axis_side, figure):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    low, high = sorted(axis_side.get_view_interval())
    labels = []
    for tick in axis_side.get_major_ticks() + axis_side.get_minor_ticks():
        label = tick.label1
        if label.get_visible() and label.get_text() and low <= tick.get_loc() <= high:
            labels.append(label.get_window_extent(renderer))
    return labels


def _overlapping(boxes) -> bool:
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def _ticks_in_view(axis_side) -> list[float]:
    low, high = sorted(axis_side.get_view_interval())
    return [t for t in axis_side.get_ticklocs() if low - 1e-9 <= t <= high + 1e-9]


def test_short_runs_get_whole_epoch_ticks_and_titles_that_say_the_direction(tmp_path):
    from cbrun.after.plotting import runs_figure

    run = _history(
        tmp_path / "short-run",
        "epoch,learning_rate,loss,accuracy\n0,0.002,1.0,0.5\n1,0.0015,0.8,0.6\n",
    )
    figure = runs_figure([run])
    loss, accuracy, rate = figure.axes
    for axis in figure.axes:
        ticks = _ticks_in_view(axis.xaxis)
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert axis.get_xlabel() == "epoch"
    assert loss.get_title() == "loss (lower is better)"
    assert accuracy.get_title() == "accuracy (higher is better)"
    assert figure._suptitle.get_text() == "short-run"
    # Less than a decade of learning rate: a linear axis, labels apart.
    assert rate.get_yscale() == "linear"
    assert not _overlapping(_visible_labels(rate.yaxis, figure))


def test_a_loss_spanning_more_than_two_decades_goes_log_and_says_so(tmp_path):
    from cbrun.after.plotting import runs_figure

    rows = "".join(f"{e},0.1,{207.0 if e == 0 else 0.5 / (e + 1)}\n" for e in range(10))
    figure = runs_figure([_history(tmp_path / "lr", "epoch,learning_rate,loss\n" + rows)])
    loss = figure.axes[0]
    assert loss.get_yscale() == "log" and loss.get_title().endswith(", log scale")
    calm = "".join(f"{e},0.1,{1.0 / (e + 1)}\n" for e in range(10))
    figure = runs_figure([_history(tmp_path / "calm", "epoch,learning_rate,loss\n" + calm)])
    assert figure.axes[0].get_yscale() == "linear"


def test_a_learning_rate_over_decades_has_few_labels_that_never_overlap(tmp_path):
    from cbrun.after.plotting import runs_figure

    rows = "".join(f"{e},{0.1 * 0.5**e},{1.0 / (e + 1)}\n" for e in range(12))
    figure = runs_figure([_history(tmp_path / "decay", "epoch,learning_rate,loss\n" + rows)])
    rate = figure.axes[-1]
    assert rate.get_yscale() == "log"
    labels = _visible_labels(rate.yaxis, figure)
    assert 2 <= len(labels) <= 5 and not _overlapping(labels)


def _sweep(folder, trials, space):
    import json

    folder.mkdir()
    state = {
        "study": "mlp",
        "objective": {"monitor": "val_accuracy", "mode": "max"},
        "space": space,
        "trials": [
            {"number": n, "status": "complete", "objective": value, "params": params}
            for n, (value, params) in enumerate(trials)
        ],
    }
    (folder / "sweep.json").write_text(json.dumps(state))
    return folder


def test_a_sweep_keeps_the_configured_choice_order_and_reads_its_log_axis(tmp_path):
    from cbrun.after.plotting import sweep_figure

    units = [[256], [32], [64], [256], [32]]
    rates = [0.002, 0.0025, 0.0021, 0.0003, 0.009]
    folder = _sweep(
        tmp_path / "sweep",
        [
            (0.9 + i / 100, {"units": u, "lr": r})
            for i, (u, r) in enumerate(zip(units, rates, strict=True))
        ],
        {"units": {"choice": [[32], [64], [128], [256]]}, "lr": {"log_uniform": [1e-4, 1e-2]}},
    )
    figure = sweep_figure(folder)
    by_trial, unit_axis, rate_axis = figure.axes
    assert by_trial.get_title() == "val_accuracy by trial (max is better)"
    assert all(float(t).is_integer() for t in _ticks_in_view(by_trial.xaxis))
    assert [t.get_text() for t in unit_axis.get_xticklabels()] == ["[32]", "[64]", "[128]", "[256]"]
    assert rate_axis.get_xscale() == "log"
    labels = _visible_labels(rate_axis.xaxis, figure)
    assert 2 <= len(labels) <= 5 and not _overlapping(labels)
    assert figure._suptitle.get_text() == "sweep mlp"


def test_a_one_epoch_run_is_drawn_as_a_point(tmp_path):
    from cbrun.after.plotting import runs_figure

    figure = runs_figure([_history(tmp_path / "one", "epoch,learning_rate,loss\n1,0.1,2.0\n")])
    (line,) = figure.axes[0].get_lines()
    assert line.get_marker() == "o" and list(line.get_xdata()) == [1]
