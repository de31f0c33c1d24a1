"""Registries: the names a config may use, mapped to the code that builds them.

A registry knows each entry's arguments, summary and hooks without importing
it, so `validate` and `list-callbacks` never wait for TensorFlow: entries are
either live callables (models and datasets, whose modules import Keras lazily)
or `"module:attr"` targets described by a table (the Keras callbacks).

Example:

```python
MODELS = Registry("model")

@MODELS.register()
def linear(inputs: int = 784):
    ...

model = MODELS.build({"name": "linear", "inputs": 784})
```
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field

from cbrun.errors import PluginError, UsageError

REQUIRED = "<required>"


def closest(name: str, candidates) -> str | None:
    """The candidate a typo most likely meant, or None."""
    candidates = list(candidates)
    by_lower = {c.lower(): c for c in candidates}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates) -> str:
    """` (did you mean 'x'?)`, or an empty string when nothing is close."""
    match = closest(name, candidates)
    return f" (did you mean '{match}'?)" if match else ""


def is_plugin_reference(name: str) -> bool:
    """`module:Class` or a dotted path: anything that is not a plain registered name."""
    return ":" in name or "." in name


def is_plugin(name: str, registry) -> bool:
    """The one rule, for callbacks and model builders alike: a name the registry does not
    hold, written as a module path, is a plugin (allowed, then imported)."""
    return name not in registry and is_plugin_reference(name)


def split_reference(name: str) -> tuple[str, str]:
    """`pkg.mod:Class` or `pkg.mod.Class` → (`pkg.mod`, `Class`)."""
    module, sep, attr = name.partition(":")
    if not sep:
        module, _, attr = name.rpartition(".")
    if (
        not module
        or not attr
        or not attr.isidentifier()
        or not all(part.isidentifier() for part in module.split("."))
    ):
        raise PluginError(f"'{name}' is not a plugin reference (write package.module:ClassName)")
    return module, attr


# Never importable as plugins, whatever the allow-list says.
DENIED_MODULES = (
    "os",
    "sys",
    "subprocess",
    "builtins",
    "shutil",
    "importlib",
    "pickle",
    "marshal",
    "ctypes",
    "socket",
    "runpy",
    "code",
    "pty",
    "multiprocessing",
    "logging",
    "posix",
    "nt",
    "io",
    "pathlib",
    "webbrowser",
    "asyncio",
)


def plugin_refusal(name: str, allowed) -> str | None:
    """Why the plugin `name` may not be imported (None when it may): not a reference, a
    module never allowed (os, subprocess ...), or one outside the allow-list `allowed`."""
    try:
        module, _ = split_reference(name)
    except PluginError as error:
        return str(error)
    root = module.split(".")[0]
    if root in DENIED_MODULES or root.startswith("_"):
        return f"plugin '{name}': the module {module} is never allowed"
    if not any(module == a or module.startswith(a + ".") for a in allowed):
        return (
            f"plugin '{name}' is not allowed: list {module} under plugins: in the config, "
            f"or pass --allow-plugin {module}"
        )
    return None


@dataclass(frozen=True)
class Argument:
    """One constructor argument of a registered entry.

    Args:
        name: the keyword.
        types: the JSON Schema types it takes (`number`, `null`, ...); empty: anything.
        default: the default, or `REQUIRED`.
        choices: the only values allowed, when there is such a list.
        doc: what the docstring says of it.
    """

    name: str
    types: tuple[str, ...] = ()
    default: object = REQUIRED
    choices: tuple = ()
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default == REQUIRED

    @property
    def type(self) -> str:
        """The types for people: `number|null`, or `any`."""
        return "|".join(self.types) or "any"

    @classmethod
    def from_record(cls, record: dict) -> Argument:
        """From a Keras-table record (`keras_signatures.describe_class`)."""
        return cls(
            record["name"],
            tuple(record.get("types") or ()),
            REQUIRED if record["required"] else record["default"],
            tuple(record.get("choices") or ()),
            record.get("doc", ""),
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "types": list(self.types),
            "required": self.required,
            "default": None if self.required else self.default,
            "choices": list(self.choices),
            "doc": self.doc,
        }


@dataclass(frozen=True)
class Entry:
    """A name a config may use, and everything known about it before import.

    Args:
        name: the registered name.
        target: the callable, or `"module:attr"` to import on first use.
        origin: `keras`, `cbrun` or `plugin`.
        summary: one line.
        doc: the full docstring.
        arguments: the constructor arguments.
        accepts_extra: whether it takes `**kwargs` beyond `arguments`.
        hooks: the `on_*` hooks it overrides (callbacks only).
        phases: where it acts by default: `fit`, `evaluate`, `predict`.
        unavailable: why it cannot be used from YAML, if it cannot.
    """

    name: str
    target: object
    origin: str = "cbrun"
    summary: str = ""
    doc: str = ""
    arguments: tuple[Argument, ...] = ()
    accepts_extra: bool = False
    hooks: tuple[str, ...] = ()
    phases: tuple[str, ...] = ("fit",)
    unavailable: str | None = None

    def load(self):
        """The callable itself, imported on first use."""
        if not isinstance(self.target, str):
            return self.target
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def argument(self, name: str) -> Argument | None:
        return next((a for a in self.arguments if a.name == name), None)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "origin": self.origin,
            "summary": self.summary,
            "doc": self.doc,
            "arguments": [a.to_dict() for a in self.arguments],
            "hooks": list(self.hooks),
            "phases": list(self.phases),
            "available": self.unavailable is None,
            "unavailable_reason": self.unavailable,
            "target": self.target if isinstance(self.target, str) else _qualname(self.target),
        }


def _qualname(obj) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def hooks_of(cls) -> tuple[str, ...]:
    """The `on_*` hooks a callback class overrides, up to Keras's base `Callback`."""
    found: set[str] = set()
    for klass in cls.__mro__:
        if klass.__name__ == "Callback" and klass.__module__.startswith("keras"):
            break
        found.update(n for n, v in vars(klass).items() if n.startswith("on_") and callable(v))
    return tuple(sorted(found))


def phases_of(hooks) -> tuple[str, ...]:
    """Where a callback acts, judged by the hooks it overrides."""
    phases = []
    if any(h.startswith(("on_train", "on_epoch", "on_batch")) for h in hooks):
        phases.append("fit")
    if any(h.startswith("on_test") for h in hooks):
        phases.append("evaluate")
    if any(h.startswith("on_predict") for h in hooks):
        phases.append("predict")
    return tuple(phases) or ("fit",)


def describe(obj, *, name: str | None = None, origin: str = "cbrun") -> Entry:
    """Describe a live class or function as a registry `Entry`.

    Args:
        obj: the class or builder function.
        name: the registered name. Defaults to `obj.__name__`.
        origin: `keras`, `cbrun` or `plugin`. Defaults to `"cbrun"`.
    """
    from cbrun.catalog.keras_table import describe_class

    record = describe_class(obj)
    doc = inspect.cleandoc(obj.__doc__ or "")
    hooks = hooks_of(obj) if inspect.isclass(obj) else ()
    return Entry(
        name=name or obj.__name__,
        target=obj,
        origin=origin,
        summary=record["summary"],
        doc=doc,
        arguments=tuple(Argument.from_record(a) for a in record["arguments"]),
        accepts_extra=record["accepts_extra"],
        hooks=hooks,
        phases=phases_of(hooks) if hooks else ("fit",),
    )


class UnknownNameError(UsageError):
    """A config names something no registry holds."""


@dataclass
class Registry:
    """Names a config may use for one kind of thing (`model`, `callback`, ...)."""

    kind: str
    _entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry) -> Entry:
        """Add an entry; a name already taken is refused, naming who holds it."""
        held = self._entries.get(entry.name)
        if held is not None:
            holder = held.target if isinstance(held.target, str) else _qualname(held.target)
            raise UsageError(f"{self.kind} '{entry.name}' is already registered by {holder}")
        self._entries[entry.name] = entry
        return entry

    def register(self, obj=None, *, name: str | None = None, origin: str = "cbrun"):
        """Register a class or function; usable as `@register()` or `register(obj)`."""

        def decorate(target):
            self.add(describe(target, name=name, origin=origin))
            return target

        return decorate(obj) if obj is not None else decorate

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def get(self, name: str) -> Entry:
        """The entry called `name`; an unknown name suggests the closest."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self._entries)}"
            ) from None

    def build(self, spec: Mapping, **extra):
        """Call the entry named `spec["name"]` with the remaining keys of `spec`."""
        kwargs = dict(spec)
        name = kwargs.pop("name")
        return self.get(name).load()(**kwargs, **extra)
