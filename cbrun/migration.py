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
import re
import traceback
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from pathlib import Path

from cbrun.errors import UsageError

# Keras 3 optimizer classes: `lr=` and `decay=` were removed from all of them.
OPTIMIZERS = frozenset(
    "SGD Adam AdamW Adamax Adagrad Adadelta Adafactor Nadam RMSprop Ftrl Lion Lamb Muon"
    " LossScaleOptimizer".split()
)

# What Keras 3's own `keras.backend` still has (3.15); anything else there is gone.
KERAS3_BACKEND = frozenset(
    "backend clear_session epsilon floatx get_uid image_data_format is_float_dtype is_int_dtype"
    " is_keras_tensor result_type set_epsilon set_floatx set_image_data_format"
    " standardize_dtype".split()
)

# Graph-and-session calls of TF 1 / Keras 2 that `tf.keras.backend` no longer has.
SESSION_ERA = frozenset(
    "get_session set_session get_graph placeholder function learning_phase set_learning_phase"
    " manual_variable_initialization symbolic is_placeholder".split()
)
# TF 1 names removed from the top-level `tf` namespace in TF 2.
TF1_NAMES = frozenset(
    "Session InteractiveSession placeholder global_variables_initializer get_default_graph"
    " reset_default_graph variable_scope get_variable ConfigProto".split()
)

# NumPy names removed in NumPy 2 (or before, in 1.20-1.24): name -> what to write.
# A replacement starting with "np." keeps the module alias the code already uses.
NUMPY_REMOVED = {
    "Inf": "np.inf",
    "Infinity": "np.inf",
    "infty": "np.inf",
    "PINF": "np.inf",
    "NINF": "-np.inf",
    "NaN": "np.nan",
    "NAN": "np.nan",
    "PZERO": "0.0",
    "NZERO": "-0.0",
    "float": "float",
    "int": "int",
    "bool": "bool",
    "object": "object",
    "str": "str",
    "unicode": "str",
    "long": "int",
    "float_": "np.float64",
    "complex_": "np.complex128",
    "cfloat": "np.complex128",
    "longfloat": "np.longdouble",
    "singlecomplex": "np.complex64",
    "longcomplex": "np.clongdouble",
    "clongfloat": "np.clongdouble",
    "unicode_": "np.str_",
    "string_": "np.bytes_",
    "int0": "np.intp",
    "uint0": "np.uintp",
    "bool8": "np.bool_",
    "product": "np.prod",
    "cumproduct": "np.cumprod",
    "alltrue": "np.all",
    "sometrue": "np.any",
    "round_": "np.round",
    "trapz": "np.trapezoid",
    "in1d": "np.isin",
    "row_stack": "np.vstack",
    "msort": "np.sort(a, axis=0)",
    "asfarray": "np.asarray(a, dtype=float)",
    "mat": "np.asmatrix",
    "issubclass_": "issubclass",
    "find_common_type": "np.result_type",
    "cast": "np.asarray(x, dtype=...)",
    "source": "inspect.getsource",
    "who": "an IDE's variable view",
    "lookfor": "the documentation search",
    "safe_eval": "ast.literal_eval",
    "deprecate": "warnings.warn",
    "set_string_function": "np.set_printoptions(formatter=...)",
}
# Those whose replacement is a drop-in name or number, applied by `--diff`.
_DROP_IN = re.compile(r"-?(np\.)?[A-Za-z_]\w*|-?\d+\.\d+")
_NUMPY_MECHANICAL = {name for name, new in NUMPY_REMOVED.items() if _DROP_IN.fullmatch(new)}

BATCH_HOOK_PREFIXES = ("on_batch_", "on_train_batch_", "on_test_batch_", "on_predict_batch_")
GENERATOR_METHODS = {
    "fit_generator": "fit",
    "evaluate_generator": "evaluate",
    "predict_generator": "predict",
}
RENAMED_METRICS = {"acc": "accuracy", "val_acc": "val_accuracy"}


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, col) to (end_line, end_col) by `text` (0-based cols)."""

    line: int
    col: int
    end_line: int
    end_col: int
    text: str


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
        self.text = text
        self.lines = text.splitlines()
        self.aliases: dict[str, str] = {}  # local name -> dotted module or object path
        self.findings: list[Finding] = []
        self._rewritten: set[int] = set()  # nodes inside a larger mechanical fix
        self._batch_hook: ast.FunctionDef | None = None

    # -- positions ---------------------------------------------------------------

    def _char_col(self, line: int, byte_col: int) -> int:
        """ast columns count UTF-8 bytes; people count characters."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def _edit(self, line, byte_col, end_line, end_byte_col, text, expect=None) -> Edit | None:
        col, end_col = self._char_col(line, byte_col), self._char_col(end_line, end_byte_col)
        if expect is not None and (line != end_line or self.lines[line - 1][col:end_col] != expect):
            return None  # the source is laid out in a way we do not rewrite safely
        return Edit(line, col, end_line, end_col, text)

    def _add(self, node, message, fix, *, severity="error", edit=None, at=None) -> None:
        """A finding at `node`'s start, or at `at` = (line, byte column)."""
        line, byte_col = at or (node.lineno, node.col_offset)
        column = self._char_col(line, byte_col) + 1
        self.findings.append(
            Finding(self.path, line, column, message, fix, severity=severity, edit=edit)
        )

    @staticmethod
    def _attr_start(node: ast.Attribute) -> tuple[int, int]:
        """Where the attribute's name begins: `x.lr` -> the `l`."""
        return node.end_lineno, node.end_col_offset - len(node.attr.encode("utf-8"))

    def _attr_edit(self, node: ast.Attribute, new: str) -> Edit | None:
        """Rename the attribute name at the end of `node` (`x.lr` -> `x.learning_rate`)."""
        line, start = self._attr_start(node)
        return self._edit(line, start, line, node.end_col_offset, new, expect=node.attr)

    def _node_edit(self, node: ast.AST, new: str) -> Edit | None:
        if node.lineno != node.end_lineno:
            return None
        old = ast.get_source_segment(self.text, node)
        return self._edit(
            node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, new, expect=old
        )

    def _string_edit(self, node: ast.Constant, new: str) -> Edit | None:
        """Replace a string literal's content, keeping its quotes."""
        if node.lineno != node.end_lineno:
            return None
        old = ast.get_source_segment(self.text, node) or ""
        if len(old) < 2 or old[-1] not in "'\"" or old[1:-1] != node.value:
            return None
        return self._node_edit(node, old[0] + new + old[-1])

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
                self._add(node, f"{full} is gone with TF 1 sessions", _SESSION_FIX)

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
                self._add(node, f"keras.backend.{attr} does not exist in Keras 3", _VALUE_FIX)
            elif attr == "set_value":
                pass  # reported with its fix by visit_Call
            elif attr in SESSION_ERA:
                self._add(node, f"keras.backend.{attr} is gone with TF 1 sessions", _SESSION_FIX)
            elif attr not in KERAS3_BACKEND:
                self._add(
                    node,
                    f"keras.backend.{attr} does not exist in Keras 3",
                    f"use keras.ops.{attr} (or tf.keras.backend.{attr}, the legacy backend)",
                )
        elif name and name.startswith("tensorflow.keras.backend.") and name.count(".") == 3:
            attr = name.rsplit(".", 1)[1]
            if attr in SESSION_ERA:
                self._add(node, f"tf.keras.backend.{attr} is gone with TF 1 sessions", _SESSION_FIX)
        elif name and name.startswith("tensorflow.") and name.count(".") == 1:
            if node.attr in TF1_NAMES:
                self._add(node, f"tf.{node.attr} is TensorFlow 1 API", _SESSION_FIX)
        if node.attr == "lr" and _is_optimizer(node.value):
            self._optimizer_lr(node)
        elif node.attr in GENERATOR_METHODS:
            new = GENERATOR_METHODS[node.attr]
            self._add(
                node,
                f"Model.{node.attr} was removed in Keras 3",
                f"use .{new}(), which takes generators and tf.data datasets",
                edit=self._attr_edit(node, new),
                at=self._attr_start(node),
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
        edit = self._node_edit(node, new_text) if attr in _NUMPY_MECHANICAL else None
        self._add(node, f"{alias}.{attr} was removed in NumPy 2", f"use {new_text}", edit=edit)

    def _optimizer_lr(self, node: ast.Attribute) -> None:
        where = ast.unparse(node.value)
        if isinstance(node.ctx, ast.Store):
            message = f"{where}.lr = ... sets an attribute Keras 3 never reads"
            fix = f"write {where}.learning_rate = ..."
        else:
            message = f"{where}.lr does not exist on Keras 3 optimizers"
            fix = f"use {where}.learning_rate"
        edit = None if id(node) in self._rewritten else self._attr_edit(node, "learning_rate")
        self._add(node, message, fix, edit=edit, at=self._attr_start(node))

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in OPTIMIZERS:
            for keyword in node.keywords:
                if keyword.arg == "lr":
                    edit = self._edit(
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
                    edit=self._string_edit(attr, "learning_rate"),
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
        target = ast.get_source_segment(self.text, variable)
        if isinstance(variable, ast.Attribute) and variable.attr == "lr":
            self._rewritten.add(id(variable))
            target = target[: -len("lr")] + "learning_rate"
        new = f"{target}.assign({ast.get_source_segment(self.text, value)})"
        where = "keras.backend" if name.startswith("keras.") else "tf.keras.backend"
        self._add(
            node,
            f"{where}.set_value fails on Keras 3 variables"
            + (" (it does not exist there)" if where == "keras.backend" else ""),
            f"write {new}",
            edit=self._node_edit(node, new),
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
                edit=self._string_edit(node, new),
            )


_VALUE_FIX = (
    "read with float(variable) or keras.ops.convert_to_numpy(variable), "
    "write with variable.assign(value)"
)
_SESSION_FIX = "Keras 3 runs eagerly or in tf.function: drop sessions, graphs and placeholders"


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
        raise UsageError(
            f"{path}:{error.lineno}:{error.offset}: not valid Python: {error.msg}"
        ) from None


def apply_fixes(text: str, findings: list[Finding]) -> str:
    """`text` with every mechanical fix applied (edits never overlap: each is one token)."""
    lines = text.splitlines(keepends=True)
    edits = sorted(
        {f.edit for f in findings if f.edit is not None},
        key=lambda e: (e.line, e.col),
        reverse=True,
    )
    for edit in edits:
        line = lines[edit.line - 1]
        lines[edit.line - 1] = line[: edit.col] + edit.text + line[edit.end_col :]
    return "".join(lines)


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


def module_source(name: str, search_paths=()) -> Path:
    """The source file of module `name`, found the way `import` would, without importing.

    Looks in `search_paths` first, then `sys.path`. Finding a submodule reads
    the parent package's folder, never runs its `__init__`.

    Raises:
        UsageError: no such module, or it has no Python source.
    """
    import sys

    locations = [str(p) for p in search_paths] + sys.path
    spec = None
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        spec = PathFinder.find_spec(".".join(parts[:depth]), locations)
        if spec is None:
            raise UsageError(f"{name}: no such module (looked in {', '.join(locations[:3])}, …)")
        locations = list(spec.submodule_search_locations or [])
    origin = spec.origin if spec else None
    if not origin or not origin.endswith(".py"):
        raise UsageError(f"{name}: no Python source to check ({origin or 'a namespace package'})")
    return Path(origin)


def resolve_target(target: str, search_paths=()) -> Path:
    """A file path as given, or else a module name (`pkg.mod`, `pkg.mod:Class`)."""
    path = Path(target)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise UsageError(f"{target}: no such file")
        return path
    return module_source(target.partition(":")[0], search_paths)


# -- at run time ------------------------------------------------------------------------


def explain_plugin_failure(exc: BaseException, plugin_files) -> str | None:
    """One line for an exception raised inside a plugin's own code, or None.

    Names the innermost frame in one of `plugin_files`, what was raised, and the
    fix when the line holds an idiom this module knows.
    """
    files = {str(Path(f).resolve()) for f in plugin_files}
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if str(Path(frame.filename).resolve()) in files
    ]
    if not frames:
        return None
    frame = frames[-1]
    said = str(exc).splitlines()[0] if str(exc) else ""
    line = f"plugin {frame.filename}:{frame.lineno}: {type(exc).__name__}: {said}".rstrip(": ")
    cause = _cause(Path(frame.filename), frame.lineno)
    return f"{line} — {cause}" if cause else line


def _cause(path: Path, lineno: int) -> str | None:
    """The fix for the idiom on `lineno`, else for the first one in its function."""
    try:
        text = read_source(path)
        findings = check_source(text, str(path))
    except (UsageError, SyntaxError):
        return None
    errors = [f for f in findings if f.severity == "error"]
    here = [f for f in errors if f.line == lineno]
    if here:
        return here[0].fix
    functions = [
        node
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.lineno <= lineno <= node.end_lineno
    ]
    if not functions:
        return None
    inner = max(functions, key=lambda node: node.lineno)
    near = [f for f in errors if inner.lineno <= f.line <= inner.end_lineno]
    return f"line {near[0].line}: {near[0].message}: {near[0].fix}" if near else None
