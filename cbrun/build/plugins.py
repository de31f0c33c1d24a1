"""User callbacks from outside cbrun, allowed explicitly and checked before import.

A config names a plugin as `package.module:ClassName` (or `package.module.ClassName`).
It is imported only when its module is allowed: listed under the config's
`plugins:`, given with `--allow-plugin`, or exposed by an installed package under
the `cbrun.callbacks` entry-point group. The check happens before any import,
so a module that is not allowed never runs a line. Modules of the standard
library that run commands or code are refused even when listed, and whatever
is imported must be a `keras.callbacks.Callback` subclass.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from importlib.machinery import PathFinder
from pathlib import Path

from cbrun.backend import load_keras
from cbrun.catalog.registry import Registry, describe, plugin_refusal, split_reference
from cbrun.errors import PluginError, UsageError
from cbrun.migrate.checker import check_file


def check_allowed(name: str, allowed: set[str]) -> tuple[str, str]:
    """Refuse, before importing anything, a plugin whose module is not allowed."""
    return (
        split_reference(name) if plugin_refusal(name, allowed) is None else _refuse(name, allowed)
    )


def _refuse(name: str, allowed: set[str]):
    raise PluginError(plugin_refusal(name, allowed))


def load_plugin(name: str, allowed: set[str], search_paths: list[Path] = (), check=None):
    """Import an allowed plugin: a callback class, or (with `check`) a model builder.

    Args:
        name: `package.module:ClassName`.
        allowed: the allowed module names (a module allows its submodules).
        search_paths: folders to look in first (the config's folder, the current one).
        check: what the object must be. Defaults to `ensure_callback_class`.

    Raises:
        PluginError: not allowed, not importable, or not what `check` wants.
    """
    module_name, attr = check_allowed(name, allowed)
    added = [str(p) for p in search_paths if str(p) not in sys.path]
    sys.path[:0] = added
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise PluginError(f"plugin '{name}': cannot import {module_name} ({error})") from None
    except Exception as error:  # the module's own code failed: name its file and line
        raise PluginError(
            f"{_failed_at(error)}plugin '{name}': importing {module_name} raised "
            f"{type(error).__name__}: {error}"
        ) from None
    finally:
        for path in added:
            sys.path.remove(path)
    obj = getattr(module, attr, None)
    if obj is None:
        raise PluginError(f"plugin '{name}': {module_name} has no {attr}")
    return (check or ensure_callback_class)(obj, name)


def _failed_at(error: Exception) -> str:
    """`file:line: ` of where a plugin module's import failed (its deepest frame)."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}:{error.lineno}: "
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""


def ensure_builder(obj, name: str):
    """`obj` if it can build a model (a function or a class); refused otherwise."""
    if not callable(obj):
        raise PluginError(f"model plugin '{name}' is not a function that builds a keras.Model")
    return obj


def ensure_callback_class(obj, name: str):
    """`obj` if it is a `keras.callbacks.Callback` subclass; refused otherwise."""
    keras = load_keras()

    if not (inspect.isclass(obj) and issubclass(obj, keras.callbacks.Callback)):
        raise PluginError(f"plugin '{name}' is not a keras.callbacks.Callback subclass")
    return obj


PLUGINS = Registry("plugin callback")  # callbacks registered by plugin modules


def register_callback(cls=None, *, name: str | None = None):
    """Mark a class in a plugin module as a cbrun callback; `@register_callback()`.

    The config still names it by `module:ClassName`, allowed under `plugins:`.
    Once the module is loaded, cbrun checks the config's arguments against the
    registered signature (unknown names, with a suggestion) before building it.
    """

    def decorate(target):
        PLUGINS.add(describe(target, name=name, origin="plugin"))
        return target

    return decorate(cls) if cls is not None else decorate


def module_source(name: str, search_paths=()) -> Path:
    """The source file of module `name`, found the way `import` would, without importing.

    Looks in `search_paths` first, then `sys.path`. Finding a submodule reads
    the parent package's folder, never runs its `__init__`.

    Raises:
        UsageError: no such module, or it has no Python source.
    """
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


def legacy_findings(references, search_paths=()) -> list:
    """Keras 3 migration findings for the plugin modules named, none of them imported.

    Args:
        references: `module:Class` (or `module.Class`) names of allowed plugins.
        search_paths: folders to look in first, as `load_plugin` does.
    """
    findings, seen = [], set()
    for reference in references:
        module = split_reference(reference)[0]
        try:
            path = module_source(module, search_paths)
        except UsageError:
            continue  # not found without importing: load_plugin will say so
        if path in seen:
            continue
        seen.add(path)
        try:
            findings.extend(check_file(path))
        except UsageError:
            continue  # not Python: the import will say so
    return findings


def check_plugin_arguments(obj, args: dict, where: str, skip=()) -> None:
    """A loaded plugin's arguments against its live signature (the same generated models
    as every built-in's; `skip`: what cbrun passes itself). The first problem, as a
    config error line."""
    from cbrun.config.arguments import live_arguments_problems

    entry = next((e for e in PLUGINS.entries() if e.target is obj), None)
    name = entry.name if entry else getattr(obj, "__name__", str(obj))
    problems = live_arguments_problems(obj, name, args, skip=skip)
    if problems:
        sub, message, _ = problems[0]
        key = "".join(f".{part}" for part in sub)
        raise PluginError(f"{where}.args{key}: {message}")
