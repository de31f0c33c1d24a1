"""Python source positions in characters, and token-sized edits of the source.

`ast` gives columns in UTF-8 bytes; people (and editors) count characters. An
edit replaces one token (an attribute name, a keyword, a string literal) and is
made only when the source holds exactly the expected text there.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, col) to (end_line, end_col) by `text` (0-based cols)."""

    line: int
    col: int
    end_line: int
    end_col: int
    text: str


class SourceText:
    """A Python source, and edits of it addressed by `ast` positions."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines()

    def char_col(self, line: int, byte_col: int) -> int:
        """ast columns count UTF-8 bytes; people count characters."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def edit(self, line, byte_col, end_line, end_byte_col, text, expect=None) -> Edit | None:
        col, end_col = self.char_col(line, byte_col), self.char_col(end_line, end_byte_col)
        if expect is not None and (line != end_line or self.lines[line - 1][col:end_col] != expect):
            return None  # the source is laid out in a way we do not rewrite safely
        return Edit(line, col, end_line, end_col, text)

    @staticmethod
    def attr_start(node: ast.Attribute) -> tuple[int, int]:
        """Where the attribute's name begins: `x.lr` -> the `l`."""
        return node.end_lineno, node.end_col_offset - len(node.attr.encode("utf-8"))

    def attr_edit(self, node: ast.Attribute, new: str) -> Edit | None:
        """Rename the attribute name at the end of `node` (`x.lr` -> `x.learning_rate`)."""
        line, start = self.attr_start(node)
        return self.edit(line, start, line, node.end_col_offset, new, expect=node.attr)

    def node_edit(self, node: ast.AST, new: str) -> Edit | None:
        if node.lineno != node.end_lineno:
            return None
        old = ast.get_source_segment(self.text, node)
        return self.edit(
            node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, new, expect=old
        )

    def string_edit(self, node: ast.Constant, new: str) -> Edit | None:
        """Replace a string literal's content, keeping its quotes."""
        if node.lineno != node.end_lineno:
            return None
        old = ast.get_source_segment(self.text, node) or ""
        if len(old) < 2 or old[-1] not in "'\"" or old[1:-1] != node.value:
            return None
        return self.node_edit(node, old[0] + new + old[-1])

    def apply(self, edits) -> str:
        """The text with `edits` applied; they must not overlap."""
        lines = self.text.splitlines(keepends=True)
        for edit in sorted(set(edits), key=lambda e: (e.line, e.col), reverse=True):
            line = lines[edit.line - 1]
            lines[edit.line - 1] = line[: edit.col] + edit.text + line[edit.end_col :]
        return "".join(lines)
