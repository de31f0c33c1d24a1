"""What in a plugin's source breaks on Keras 3, TensorFlow 2.16+ and NumPy 2.

Callback code written from the TensorFlow 2.0 guide (`RMSprop(lr=...)`,
`optimizer.lr`, `np.Inf`, `fit_generator`, `logs["acc"]`) fails on today's
stack, one traceback at a time and only after TensorFlow has loaded. This
module reads the source with `ast` (nothing is imported or run) and reports
every such idiom at once, one `Finding` per place, each with what to write
instead; the mechanical fixes can be printed as a unified diff.

Example:

```python
findings = check_file(Path("my_callbacks.py"))
for finding in findings:
    print(finding)
print(fix_diff(Path("my_callbacks.py")))
```
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from cbrun.errors import UsageError
from cbrun.migrate.keras3_changes import (
    BATCH_HOOK_PREFIXES,
    GENERATOR_METHODS,
    KERAS3_BACKEND,
    NUMPY_MECHANICAL,
    NUMPY_REMOVED,
    OPTIMIZERS,
    RENAMED_METRICS,
    SESSION_ERA,
    SESSION_FIX,
    TF1_NAMES,
    VALUE_FIX,
)
from cbrun.migrate.source_edits import Edit, SourceText


@dataclass(frozen=True)
class Finding:
    """One idiom that breaks (or, for a `note`, may misbehave) on today's stack.

    Args:
        path: the source file.
        line: 1-based line.
        col: 1-based column (characters).
        message: what breaks.
        fix: what to write instead.
        severity: `error`, or `note` for what works but may surprise.
        edit: the mechanical fix, when there is one.
    """

    path: str
    line: int
    col: int
    message: str
    fix: str
    severity: str = "error"
    edit: Edit | None = field(default=None, compare=False)

    def __str__(self) -> str:
        kind = "note: " if self.severity == "note" else ""
        return f"{self.path}:{self.line}:{self.col}: {kind}{self.message} — {self.fix}"


class _Checker(ast.NodeVisitor):
    """Walks one module, resolving import aliases, and collects findings."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.source = SourceText(text)
        self.aliases: dict[str, str] = {}  # local name -> dotted module or object path
        self.findings: list[Finding] = []
        self._rewritten: set[int] = set()  # nodes inside a larger mechanical fix
        self._batch_hook: ast.FunctionDef | None = None

    # -- positions ---------------------------------------------------------------

    def _add(self, node, message, fix, *, severity="error", edit=None, at=None) -> None:
        """A finding at `node`'s start, or at `at` = (line, byte column)."""
        line, byte_col = at or (node.lineno, node.col_offset)
        column = self.source.char_col(line, byte_col) + 1
        self.findings.append(
            Finding(self.path, line, column, message, fix, severity=severity, edit=edit)
        )

    # -- names -------------------------------------------------------------------

    def dotted(self, node: ast.AST) -> str | None:
        """`tf.keras.backend.get_value` -> `tensorflow.keras.backend.get_value`."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(self.aliases.get(node.id, node.id))
        return ".".join(reversed(parts))

    @staticmethod
    def _numpy_alias_text(node: ast.Attribute) -> str:
        return node.value.id if isinstance(node.value, ast.Name) else "np"

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module is None or node.level:
            return
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = full
            if node.module == "numpy" and alias.name in NUMPY_REMOVED:
                self._add(
                    node,
                    f"numpy.{alias.name} was removed in NumPy 2",
                    f"use {NUMPY_REMOVED[alias.name]}",
                )
            if node.module.endswith("keras.backend") and alias.name in SESSION_ERA:
                self._add(node, f"{full} is gone with TF 1 sessions", SESSION_FIX)

    # -- hooks -------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer = self._batch_hook
        if node.name.startswith(BATCH_HOOK_PREFIXES):
            self._batch_hook = node
        self.generic_visit(node)
        self._batch_hook = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    # -- the idioms --------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if name and name.startswith("numpy.") and name.count(".") == 1:
            self._numpy(node, name.split(".")[1])
        elif name and name.startswith("keras.backend.") and name.count(".") == 2:
            attr = name.rsplit(".", 1)[1]
            if attr in ("get_value", "batch_get_value", "batch_set_value"):
                self._add(node, f"keras.backend.{attr} does not exist in Keras 3", VALUE_FIX)
            elif attr == "set_value":
                pass  # reported with its fix by visit_Call
            elif attr in SESSION_ERA:
                self._add(node, f"keras.backend.{attr} is gone with TF 1 sessions", SESSION_FIX)
            elif attr not in KERAS3_BACKEND:
                self._add(
                    node,
                    f"keras.backend.{attr} does not exist in Keras 3",
                    f"use keras.ops.{attr} (or tf.keras.backend.{attr}, the legacy backend)",
                )
        elif name and name.startswith("tensorflow.keras.backend.") and name.count(".") == 3:
            attr = name.rsplit(".", 1)[1]
            if attr in SESSION_ERA:
                self._add(node, f"tf.keras.backend.{attr} is gone with TF 1 sessions", SESSION_FIX)
        elif name and name.startswith("tensorflow.") and name.count(".") == 1:
            if node.attr in TF1_NAMES:
                self._add(node, f"tf.{node.attr} is TensorFlow 1 API", SESSION_FIX)
        if node.attr == "lr" and _is_optimizer(node.value):
            self._optimizer_lr(node)
        elif node.attr in GENERATOR_METHODS:
            new = GENERATOR_METHODS[node.attr]
            self._add(
                node,
                f"Model.{node.attr} was removed in Keras 3",
                f"use .{new}(), which takes generators and tf.data datasets",
                edit=self.source.attr_edit(node, new),
                at=self.source.attr_start(node),
            )
        elif node.attr == "stop_training" and isinstance(node.ctx, ast.Store):
            if self._batch_hook is not None:
                self._add(
                    node,
                    f"stop_training set in {self._batch_hook.name}: with fit.steps_per_execution "
                    "> 1 Keras runs that many steps before it looks",
                    "leave fit.steps_per_execution at auto (cbrun then runs every step) or "
                    "stop in on_epoch_end",
                    severity="note",
                )
        self.generic_visit(node)

    def _numpy(self, node: ast.Attribute, attr: str) -> None:
        new = NUMPY_REMOVED.get(attr)
        if new is None:
            return
        alias = self._numpy_alias_text(node)
        new_text = new.replace("np.", f"{alias}.")
        edit = self.source.node_edit(node, new_text) if attr in NUMPY_MECHANICAL else None
        self._add(node, f"{alias}.{attr} was removed in NumPy 2", f"use {new_text}", edit=edit)

    def _optimizer_lr(self, node: ast.Attribute) -> None:
        where = ast.unparse(node.value)
        if isinstance(node.ctx, ast.Store):
            message = f"{where}.lr = ... sets an attribute Keras 3 never reads"
            fix = f"write {where}.learning_rate = ..."
        else:
            message = f"{where}.lr does not exist on Keras 3 optimizers"
            fix = f"use {where}.learning_rate"
        edit = None if id(node) in self._rewritten else self.source.attr_edit(node, "learning_rate")
        self._add(node, message, fix, edit=edit, at=self.source.attr_start(node))

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in OPTIMIZERS:
            for keyword in node.keywords:
                if keyword.arg == "lr":
                    edit = self.source.edit(
                        keyword.lineno,
                        keyword.col_offset,
                        keyword.lineno,
                        keyword.col_offset + 2,
                        "learning_rate",
                        expect="lr",
                    )
                    self._add(
                        keyword,
                        f"{last}(lr=...) was removed in Keras 3",
                        "write learning_rate=",
                        edit=edit,
                    )
                elif keyword.arg == "decay":
                    self._add(
                        keyword,
                        f"{last}(decay=...) was removed in Keras 3",
                        "pass a schedule as learning_rate, e.g. "
                        "keras.optimizers.schedules.InverseTimeDecay",
                    )
        if last in ("hasattr", "getattr", "setattr") and len(node.args) >= 2:
            target, attr = node.args[0], node.args[1]
            if _is_optimizer(target) and _is_string(attr, "lr"):
                self._add(
                    attr,
                    f"{last}(..., 'lr'): Keras 3 optimizers have no attribute lr",
                    "use 'learning_rate'",
                    edit=self.source.string_edit(attr, "learning_rate"),
                )
        if name.endswith("keras.backend.set_value") and len(node.args) == 2:
            self._set_value(node, name)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            self._logs_key(node.args[0], node.func.value)
        for keyword in node.keywords:
            if keyword.arg == "monitor":
                self._metric_name(keyword.value)
        self.generic_visit(node)

    def _set_value(self, node: ast.Call, name: str) -> None:
        """`K.set_value(v, x)` -> `v.assign(x)` (Keras 3 variables have a string dtype,
        which the legacy `tf.keras.backend.set_value` cannot read)."""
        variable, value = node.args
        target = ast.get_source_segment(self.source.text, variable)
        if isinstance(variable, ast.Attribute) and variable.attr == "lr":
            self._rewritten.add(id(variable))
            target = target[: -len("lr")] + "learning_rate"
        new = f"{target}.assign({ast.get_source_segment(self.source.text, value)})"
        where = "keras.backend" if name.startswith("keras.") else "tf.keras.backend"
        self._add(
            node,
            f"{where}.set_value fails on Keras 3 variables"
            + (" (it does not exist there)" if where == "keras.backend" else ""),
            f"write {new}",
            edit=self.source.node_edit(node, new),
        )

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._logs_key(node.slice, node.value)
        self.generic_visit(node)

    def _logs_key(self, key: ast.AST, container: ast.AST) -> None:
        self._metric_name(key)
        hook = self._batch_hook
        if hook is None or not isinstance(key, ast.Constant) or key.value not in ("batch", "size"):
            return
        logs_param = hook.args.args[-1].arg if hook.args.args else "logs"
        if isinstance(container, ast.Name) and container.id == logs_param:
            fix = (
                "use the hook's batch argument"
                if key.value == "batch"
                else "use self.params (steps) or the batch size from your config"
            )
            self._add(key, f"Keras 3 batch logs carry no '{key.value}'", fix)

    def _metric_name(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and node.value in RENAMED_METRICS:
            new = RENAMED_METRICS[node.value]
            self._add(
                node,
                f"'{node.value}' is never logged: Keras 3 names the metric '{new}'",
                f"use '{new}'",
                edit=self.source.string_edit(node, new),
            )


def _is_optimizer(node: ast.AST) -> bool:
    """`optimizer`, `opt`, `self.model.optimizer`, `model.optimizer`..."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("optimizer", "_optimizer")
    return isinstance(node, ast.Name) and node.id in ("optimizer", "opt", "optim")


def _is_string(node: ast.AST, value: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == value


def check_source(text: str, path: str = "<string>") -> list[Finding]:
    """Every finding in Python source `text`, in line order.

    Raises:
        SyntaxError: the text is not Python.
    """
    tree = ast.parse(text, filename=path)
    checker = _Checker(path, text)
    checker.visit(tree)
    unique = {(f.line, f.col, f.message): f for f in checker.findings}
    return sorted(unique.values(), key=lambda f: (f.line, f.col))


def read_source(path: Path) -> str:
    """The text of a plugin file, or a `UsageError` saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read: {error}") from None


def check_file(path: Path) -> list[Finding]:
    """Every finding in one file.

    Raises:
        UsageError: the file cannot be read or is not valid Python.
    """
    text = read_source(path)
    try:
        return check_source(text, str(path))
    except SyntaxError as error:
        line, column = error.lineno, error.offset
        if line is None and "\0" in text:  # Python names no place for a null byte
            before = text[: text.index("\0")]
            line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        place = f":{line}:{column}" if line is not None else ""
        raise UsageError(f"{path}{place}: not valid Python: {error.msg}") from None
    except (RecursionError, MemoryError):  # the parser's and the checker's own limits
        raise UsageError(
            f"{path}: an expression nested too deeply to check (Python's recursion limit)"
        ) from None


def apply_fixes(text: str, findings: list[Finding]) -> str:
    """`text` with every mechanical fix applied (edits never overlap: each is one token)."""
    return SourceText(text).apply(f.edit for f in findings if f.edit is not None)


def fix_diff(path: Path) -> str:
    """A unified diff of the mechanical fixes for `path`; empty when there are none."""
    text = read_source(path)
    fixed = apply_fixes(text, check_file(path))
    return "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            fixed.splitlines(keepends=True),
            fromfile=f"{path}",
            tofile=f"{path} (fixed)",
        )
    )
