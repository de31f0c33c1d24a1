"""`extends:`: one config built on another, every value keeping the place that set it.

```yaml
# experiment.yaml
extends: base.yaml          # relative to this file; a chain is fine, a cycle is an error
fit: {epochs: 20}           # mappings merge key by key
compile: {metrics: [mae]}   # a list replaces the base's list...
callbacks+:                 # ...unless `key+:` appends to it
  - TerminateOnNaN
```

The merged `Document` keeps each value's `file:line:col` from whichever file of
the chain set it, so every error still points at the right line; `chain` lists
the files with their sha256, which the run's `config.yaml` records.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from cbrun.config.yaml_loader import Document, describe_value, format_path
from cbrun.errors import ConfigError, Problem

APPEND = "+"
# Files on one `extends:` chain: deep enough for any real layering, far from Python's
# recursion limit (each link is a few frames of YAML loading and merging).
MAX_CHAIN = 32


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resolve(path: Path, load, seen: tuple = ()) -> tuple[Document, list[dict]]:
    """The document of `path` with its `extends:` chain merged in, and the chain.

    Args:
        path: the config file.
        load: reads one file into a `Document` (with positions).
        seen: the files already on the chain (to refuse a cycle).
    """
    path = Path(path)
    doc = load(path)
    chain = [{"file": str(path), "sha256": sha256_of(path)}]
    if not isinstance(doc.data, dict) or "extends" not in doc.data:
        return doc, chain
    reference = doc.data.pop("extends")
    where = doc.where(("extends",))
    if not isinstance(reference, str):
        got = describe_value(reference)
        raise ConfigError([Problem(where, "extends", f"expected a file name, got {got}")])
    try:
        base = (path.parent / reference).resolve()
    except (RuntimeError, OSError):  # Python 3.11-3.12 raise RuntimeError on a link loop
        message = f"{path.parent / reference}: a loop of symbolic links"
        raise ConfigError([Problem(where, "extends", message)]) from None
    if base in seen or base == path.resolve():
        files = " -> ".join(str(p) for p in (*seen, path.resolve(), base))
        raise ConfigError([Problem(where, "extends", f"a cycle: {files}")])
    if base.is_dir():
        raise ConfigError([Problem(where, "extends", f"{base} is a folder, not a config file")])
    if not base.is_file():
        raise ConfigError([Problem(where, "extends", f"no such file: {base}")])
    if len(seen) + 2 > MAX_CHAIN:
        message = f"the chain is longer than {MAX_CHAIN} files (at {base.name}): flatten it"
        raise ConfigError([Problem(where, "extends", message)])
    base_doc, base_chain = resolve(base, load, (*seen, path.resolve()))
    if not isinstance(base_doc.data, dict):
        raise ConfigError([Problem(where, "extends", f"{base} is not a mapping of sections")])
    return merge(base_doc, doc), chain + base_chain


def merge(base: Document, child: Document) -> Document:
    """`child` over `base`: mappings merge, lists and values replace, `key+:` appends."""
    out = Document(data=copy.deepcopy(base.data), source=child.source)
    out.marks, out.key_marks = dict(base.marks), dict(base.key_marks)
    out.marks[()] = child.marks.get((), child.source)
    _merge_into(out, out.data, child, child.data, ())
    return out


def _merge_into(out: Document, target: dict, child: Document, values: dict, path: tuple) -> None:
    for key, value in values.items():
        if key.endswith(APPEND) and key[:-1]:
            _append(out, target, child, key, path)
            continue
        here = path + (key,)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            out.key_marks[here] = child.key_marks.get(here, child.where(here, key=True))
            _merge_into(out, target[key], child, value, here)
            continue
        target[key] = value
        _forget(out, here)
        _copy_marks(out, child, here, here)


def _append(out: Document, target: dict, child: Document, key: str, path: tuple) -> None:
    name, values = key[: -len(APPEND)], child.data_at(path + (key,))
    here = path + (name,)
    if not isinstance(values, list):
        message = f"{key} appends a list, got {describe_value(values)}"
        raise ConfigError(
            [Problem(child.where(path + (key,)), format_path(path + (key,)), message)]
        )
    existing = target.get(name)
    if existing is None:
        existing = target[name] = []
        _forget(out, here)
        out.key_marks[here] = child.where(path + (key,), key=True)
    if not isinstance(existing, list):
        message = f"{key} appends to a list, but {format_path(here)} is {describe_value(existing)}"
        raise ConfigError(
            [Problem(child.where(path + (key,)), format_path(path + (key,)), message)]
        )
    start = len(existing)
    existing.extend(values)
    for sub, mark in child.marks.items():
        if sub[: len(path) + 1] == path + (key,) and len(sub) > len(path) + 1:
            index, rest = sub[len(path) + 1], sub[len(path) + 2 :]
            out.marks[here + (start + index, *rest)] = mark
    for sub, mark in child.key_marks.items():
        if sub[: len(path) + 1] == path + (key,) and len(sub) > len(path) + 1:
            index, rest = sub[len(path) + 1], sub[len(path) + 2 :]
            out.key_marks[here + (start + index, *rest)] = mark


def _refuse(doc: Document, path: tuple, message: str):
    raise ConfigError([Problem(doc.where(path), format_path(path), message)])


def _forget(out: Document, path: tuple) -> None:
    for table in (out.marks, out.key_marks):
        for key in [k for k in table if k[: len(path)] == path]:
            del table[key]


def _copy_marks(out: Document, child: Document, source: tuple, target: tuple) -> None:
    for table, into in ((child.marks, out.marks), (child.key_marks, out.key_marks)):
        for key, mark in table.items():
            if key[: len(source)] == source:
                into[target + key[len(source) :]] = mark


def origins(doc: Document) -> list[tuple[str, object, str]]:
    """`(key path, value, file:line:col)` of every value the config sets, base files first."""
    found = []
    for path, mark in doc.marks.items():
        value = doc.data_at(path)
        if path and not isinstance(value, (dict, list)):
            found.append((format_path(path), value, mark))
    return found
