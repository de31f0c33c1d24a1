"""Rows of fields break between fields on a terminal, never inside one; the log keeps
one line per row."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from cbrun.output.logsink import LogSink, wrap_fields

FIELDS = [
    "epoch 12/20",
    "12.34s",
    "loss 0.1234 (-0.0100)",
    "accuracy 0.9654 (+0.0021)",
    "val_loss 0.1036 (-0.0004)",
    "val_accuracy 0.9712 (+0.0008)",
    "lr 1.000e-04",
]


def sink_on(width: int, terminal: bool, tmp_path) -> tuple[LogSink, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system=None)
    sink = LogSink(console)
    sink.open_log(tmp_path / "train.log")
    return sink, out


@pytest.mark.parametrize("width", [80, 120, 200])
def test_a_row_on_a_terminal_breaks_between_fields(width, tmp_path):
    sink, out = sink_on(width, True, tmp_path)
    sink.fields(FIELDS)
    sink.close()
    lines = out.getvalue().splitlines()
    assert all(len(line) <= width for line in lines)
    assert (len(lines) > 1) == (len("  ".join(FIELDS)) > width)
    shown = [field.strip() for line in lines for field in line.split("  ") if field.strip()]
    assert shown == FIELDS  # each field whole, in order
    assert lines[-1].startswith("    ") or len(lines) == 1
    log = (tmp_path / "train.log").read_text().splitlines()
    assert log == ["  ".join(FIELDS)]


def test_a_row_on_a_pipe_stays_one_line(tmp_path):
    sink, out = sink_on(80, False, tmp_path)
    sink.fields(FIELDS)
    sink.line("data: " + "word " * 30)
    sink.close()
    assert out.getvalue().splitlines()[0] == "  ".join(FIELDS)
    assert len(out.getvalue().splitlines()) == 2


def test_a_long_line_on_a_terminal_wraps_between_words(tmp_path):
    sink, out = sink_on(80, True, tmp_path)
    words = [f"word{i:02d}" for i in range(30)]
    sink.line("data: " + " ".join(words))
    sink.close()
    lines = out.getvalue().splitlines()
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines)
    assert [w for line in lines for w in line.split()] == ["data:", *words]


def test_wrap_fields_keeps_styles_and_a_prefix():
    fields = [Text("a" * 30), Text("b" * 30, style="green"), Text("c" * 30)]
    text = wrap_fields(fields, 75, first=Text("worker 1: "))
    assert text.plain.splitlines() == [
        "worker 1: " + "a" * 30 + "  " + "b" * 30,
        "    " + "c" * 30,
    ]
    assert any(span.style == "green" for span in text.spans)
