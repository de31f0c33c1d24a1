"""What `runs` and a sweep's trials look like at 80 and 120 columns: no number cut."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from cbrun.after.views import runs_table, sweep_table

ROWS = [
    {
        "path": f"runs/early-stop-2026120{i}-11461{i}",
        "status": status,
        "started": f"2026-12-0{i}T11:46:11+0000",
        "epochs": 12,
        "final": {"loss": 0.2345 + i, "val_accuracy": 0.97531, "accuracy": 0.98},
        "best": {"loss": 0.1234, "val_accuracy": 0.98765},
        "evaluate": {"loss": 0.3456, "accuracy": 0.9612},
        "seconds": 3725.0 if i == 1 else 12.5,
    }
    for i, status in enumerate(["completed", "stopped_early", "failed"], start=1)
]
NUMBERS = ["0.9877", "0.9753", "0.9612", "1h02m", "12.5s", "12"]


def render(table, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def numbers_in(text: str) -> list[str]:
    return re.findall(r"[\dhms.]+", text)


@pytest.mark.parametrize("width", [80, 120])
def test_runs_fit_the_console_with_every_number_whole(width):
    console = Console(width=width)
    table, _ = runs_table("runs", ROWS, console)
    text = render(table, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    headers = [column.header for column in table.columns]
    assert headers[:5] == ["run", "status", "epochs", "best\nval_accuracy", "time"]
    for row in ROWS:
        assert row["path"].split("/")[-1] in text  # the name on one line
    for number in ("0.9877", "12.5s", "1h02m"):
        assert number in numbers_in(text)


def test_at_80_columns_the_low_priority_columns_give_way_and_the_caption_says_so():
    table, width = runs_table("runs", ROWS, Console(width=80))
    headers = [column.header for column in table.columns]
    assert "started" not in headers and width == 80
    assert "--wide" in table.caption and "started" in table.caption
    wide, wide_width = runs_table("runs", ROWS, Console(width=80), wide=True)
    assert [column.header for column in wide.columns][-1] == "started"
    assert wide_width > 80
    text = render(wide, wide_width)
    assert "…" not in text and "2026-12-01 11:46" in text


def test_at_120_columns_more_columns_show():
    narrow, _ = runs_table("runs", ROWS, Console(width=80))
    broad, _ = runs_table("runs", ROWS, Console(width=120))
    assert len(broad.columns) > len(narrow.columns)


def test_runs_with_different_metrics_name_them_in_each_cell():
    rows = [ROWS[0], {**ROWS[1], "final": {"loss": 0.5}, "best": {"loss": 0.25}}]
    table, _ = runs_table("runs", rows, Console(width=120))
    text = render(table, 120)
    assert "val_accuracy 0.9877" in text and "loss 0.2500" in text


def test_a_very_narrow_console_folds_only_the_name():
    table, _ = runs_table("runs", ROWS[:1], Console(width=70))
    text = render(table, 70)
    assert "0.9877" in text and "1h02m" in text
    assert max(len(line) for line in text.splitlines()) <= 70


def test_sweep_trials_put_parameters_last_and_whole():
    rows = [
        {
            "number": n,
            "objective": 0.9 + n / 100,
            "status": "complete",
            "epochs": 3,
            "seconds": 5.0,
            "params": {
                "model.args.units": [64],
                "compile.optimizer.args.learning_rate": 0.000123456,
            },
        }
        for n in range(3)
    ]
    for width in (80, 120):
        table, _ = sweep_table("sweep", rows, Console(width=width))
        text = render(table, width)
        assert max(len(line) for line in text.splitlines()) <= width
        assert "…" not in text
    headers = [column.header for column in table.columns]
    assert headers == ["trial", "objective", "status", "epochs", "time", "units", "learning_rate"]
    assert "0.0001235" in text
