"""Where cbrun's lines go: the rich Console the CLI made, and the run's train.log.

Every line printed during a run goes through one `LogSink`, so the console
and `train.log` always say the same thing; the log file gets plain text only.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rich.console import Console
from rich.text import Text


def make_console() -> Console:
    """The one Console of a command (or of a sweep worker). rich honours NO_COLOR,
    TERM=dumb and pipes."""
    return Console(highlight=False)


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
        """One line to the console (unless quiet) and to the log."""
        plain = self.prefix + (text.plain if isinstance(text, Text) else text)
        if self.prefix:
            text = plain
        with self._lock:
            if always or not self.quiet:
                shown = text if isinstance(text, Text) else Text(text, style=style or "")
                self.console.print(shown, highlight=False, soft_wrap=True)
            self._write(plain)

    def show(self, renderable, plain: str, *, always: bool = False) -> None:
        """A rich renderable (a table) on the console; its plain form in the log."""
        with self._lock:
            if always or not self.quiet:
                self.console.print(renderable)
            self._write(plain.rstrip("\n"))

    def log_only(self, text: str) -> None:
        """A line for train.log alone (what a live display shows in place)."""
        with self._lock:
            self._write(text)

    def _write(self, plain: str) -> None:
        if self._log is not None:
            self._log.write(plain + "\n")
        else:
            self._early.append(plain)


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
