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
