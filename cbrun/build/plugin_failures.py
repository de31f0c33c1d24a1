"""A user plugin raising from its own code, told in one line at the plugin's own `file:line`.

With the fix, when the line (or its function) holds an idiom `cbrun check-plugin` knows.
Used wherever plugin code runs: building a model, building callbacks, fit, evaluate, predict.
"""

from __future__ import annotations

import ast
import contextlib
import sys
import traceback
from pathlib import Path

from cbrun.errors import CbrunError, PluginFailed, UsageError
from cbrun.migrate.checker import check_source, read_source

# Callbacks from these packages are cbrun's and Keras's own, never a user's plugin.
_NOT_PLUGINS = ("cbrun", "keras", "tensorflow")


def plugin_source_files(classes) -> set[str]:
    """The source files of the user plugin classes among callback `classes`."""
    files = set()
    for cls in classes:
        path = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if path and cls.__module__.split(".")[0] not in _NOT_PLUGINS:
            files.add(path)
    return files


@contextlib.contextmanager
def explained_failures(classes):
    """Turn an exception raised in the own code of one of the callback `classes`
    (a user's plugin) into one `PluginFailed` line."""
    try:
        yield
    except CbrunError:
        raise
    except Exception as error:
        said = explain_plugin_failure(error, plugin_source_files(classes))
        if said is None:
            raise
        raise PluginFailed(said) from error


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
