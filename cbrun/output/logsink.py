"""Where cbrun's lines go: the rich Console the CLI made, and the run's train.log.

Every line printed during a run goes through one `LogSink`, so the console
and `train.log` always say the same thing; the log file gets plain text only.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from pathlib import Path

from rich.console import Console
from rich.text import Text


def make_console() -> Console:
    """The one Console of a command (or of a sweep worker). rich honours NO_COLOR,
    TERM=dumb and pipes."""
    return Console(highlight=False)


FIELD_GAP = "  "
INDENT = "    "


def wrap_fields(fields: list[Text], width: int, first: Text | None = None) -> Text:
    """`fields` joined by two spaces, on as many lines of at most `width` as needed; a
    line breaks only between fields, and the lines after the first are indented."""
    out = Text() + (first or Text())
    column = len(out.plain)
    for index, field in enumerate(fields):
        gap = FIELD_GAP if index else ""
        if index and column + len(gap) + field.cell_len > width:
            out.append("\n" + INDENT)
            column, gap = len(INDENT), ""
        out.append(gap)
        out.append_text(field)
        column += len(gap) + field.cell_len
    return out


class LogSink:
    """Prints lines to a console and appends them, as plain text, to a log file.

    Args:
        console: the Console made by the CLI.
        quiet: print nothing to the console except what is sent with `always=True`.
    """

    def __init__(self, console: Console | None = None, *, quiet: bool = False, prefix: str = ""):
        self.console = console or Console()
        self.quiet = quiet
        self.prefix = prefix  # e.g. "worker 1: " on the non-chief workers of a cluster
        self._log = None
        self._early: list[str] = []  # lines printed before the log file exists
        # Batch hooks may run on Keras's callback threads.
        self._lock = threading.Lock()
        self._echo = threading.local()  # set while this sink itself prints to the console

    def open_log(self, path: Path) -> None:
        """Start appending every line to `path` (line-buffered, append-only)."""
        self._log = open(path, "a", encoding="utf-8", buffering=1)
        self._log.writelines(line + "\n" for line in self._early)
        self._early = []

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def line(self, text: str | Text, *, style: str | None = None, always: bool = False) -> None:
        """One line to the console (unless quiet) and to the log.

        On a terminal rich wraps it between words; anywhere else (a pipe, CI) it stays
        one line, as in the log, so that it can be searched."""
        plain = self.prefix + (text.plain if isinstance(text, Text) else text)
        if self.prefix:
            text = plain
        with self._lock:
            if always or not self.quiet:
                shown = text if isinstance(text, Text) else Text(text, style=style or "")
                self._print(shown, soft_wrap=not self.console.is_terminal)
            self._write(plain)

    def fields(self, fields: list[str | Text], *, always: bool = False) -> None:
        """A row of fields (`loss 0.1234 (-0.0100)`, ...): one line in the log; on a
        terminal narrower than the row, broken between fields, never inside one."""
        parts = [field if isinstance(field, Text) else Text(field) for field in fields]
        row = Text(self.prefix) + Text(FIELD_GAP).join(parts)
        with self._lock:
            if always or not self.quiet:
                shown = row
                if self.console.is_terminal:
                    shown = wrap_fields(parts, self.console.width, first=Text(self.prefix))
                self._print(shown, soft_wrap=True)
            self._write(row.plain)

    def show(self, renderable, plain: str, *, always: bool = False) -> None:
        """A rich renderable (a table) on the console; its plain form in the log."""
        with self._lock:
            if always or not self.quiet:
                self._print(renderable)
            self._write(plain.rstrip("\n"))

    def _print(self, renderable, **options) -> None:
        self._echo.on = True
        try:
            self.console.print(renderable, highlight=False, **options)
        finally:
            self._echo.on = False

    @contextlib.contextmanager
    def capturing_output(self):
        """While a run is on: what anything else prints (a plugin's `print()`, a Python
        warning) reaches the console as before and `train.log` too, line by line."""
        tee = _LogTee(self, sys.stdout)
        shown = warnings.showwarning

        def show_warning(message, category, filename, lineno, file=None, line=None):
            self.line(f"warning: {category.__name__}: {message} ({Path(filename).name}:{lineno})")

        sys.stdout, warnings.showwarning = tee, show_warning
        try:
            yield self
        finally:
            tee.flush_partial()
            if sys.stdout is tee:
                sys.stdout = tee.stream
            warnings.showwarning = shown

    def log_only(self, text: str) -> None:
        """A line for train.log alone (what a live display shows in place)."""
        with self._lock:
            self._write(text)

    def _write(self, plain: str) -> None:
        if self._log is not None:
            self._log.write(plain + "\n")
        else:
            self._early.append(plain)


class _LogTee:
    """`sys.stdout` during a run: writes go on to the real stream and, but for the
    sink's own lines (already logged), to the log. Everything else is the stream's."""

    def __init__(self, sink: LogSink, stream):
        self.sink, self.stream = sink, stream
        self._partial = ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        if not getattr(self.sink._echo, "on", False):
            *lines, self._partial = (self._partial + text).split("\n")
            for line in lines:
                self.sink.log_only(line)
        return len(text)

    def flush_partial(self) -> None:
        if self._partial:
            self.sink.log_only(self._partial)
            self._partial = ""

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding ... as the real stream
        return getattr(self.stream, name)


class PrintsLines:
    """Mixin for callbacks that print: `self.say(text)` goes through cbrun's sink.

    The runner sets `sink`; outside cbrun (a plain Keras script) lines go to stdout.
    """

    sink: LogSink | None = None

    def say(self, text: str) -> None:
        if self.sink is None:
            print(text)
        else:
            self.sink.line(text)
