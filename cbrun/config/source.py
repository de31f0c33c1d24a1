"""A config file as data with positions: read safely, shorthands expanded, `--set` applied.

The file is read as UTF-8 text of at most `MAX_CONFIG_BYTES`; `--set a.b=VALUE`
reads VALUE as YAML and marks what it set with `--set a.b=VALUE` as its place,
so a problem in an override names the override.
"""

from __future__ import annotations

from pathlib import Path

from cbrun.config.composition import resolve
from cbrun.config.yaml_loader import Document, describe_value, format_path, load_yaml
from cbrun.errors import ConfigError, Problem

MAX_CONFIG_BYTES = 1 << 20


# Mappings with one obvious key, and that key: `model: mlp` is `model: {name: mlp}`.
SHORTHANDS = {
    ("data",): "dataset",
    ("model",): "name",
    ("compile", "optimizer"): "name",
    ("sweep", "pruner"): "type",
}


def _normalise(doc: Document) -> None:
    """Shorthands to their long form, keeping positions: `- EarlyStopping` → `{name: ...}`,
    `model: mlp` → `{name: mlp}`, `pruner: median` → `{type: median}` (see SHORTHANDS)."""
    data = doc.data
    callbacks = data.get("callbacks")
    if isinstance(callbacks, list):
        for index, item in enumerate(callbacks):
            if isinstance(item, str):
                callbacks[index] = {"name": item}
                doc.marks[("callbacks", index, "name")] = doc.where(("callbacks", index))
    for path, key in SHORTHANDS.items():
        parent = data
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and isinstance(parent.get(path[-1]), str):
            parent[path[-1]] = {key: parent[path[-1]]}
            doc.marks[path + (key,)] = doc.where(path)


def _split_override(raw: str) -> tuple[list, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise ConfigError([Problem(f"--set {raw}", "", "expected KEY=VALUE, e.g. fit.epochs=5")])
    parts = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    if any(p == "" for p in parts):
        raise ConfigError([Problem(f"--set {raw}", "", f"'{key}' is not a dotted key path")])
    return parts, value


def apply_override(doc: Document, raw: str) -> None:
    """Apply one `--set dotted.path=value`; the value is read as YAML."""
    parts, text = _split_override(raw)
    where = f"--set {raw}"
    value_doc = load_yaml(text, where, tuple(parts))
    node = doc.data
    for depth, part in enumerate(parts[:-1]):
        here = format_path(tuple(parts[: depth + 1]))
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise ConfigError(
                    [Problem(where, here, f"no item {part} (the list has {len(node)})")]
                )
            node = node[part]
        elif isinstance(node, dict):
            key = str(part) if isinstance(part, int) else part
            if node.get(key) is None:
                node[key] = {}
                # A key the file did not have: a problem with it is the override's.
                made = tuple(parts[: depth + 1])
                doc.marks[made] = doc.key_marks[made] = where
            node = node[key]
        else:
            raise ConfigError(
                [Problem(where, here, f"cannot set a key inside {describe_value(node)}")]
            )
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            raise ConfigError(
                [
                    Problem(
                        where,
                        format_path(tuple(parts)),
                        f"no item {last} (the list has {len(node)})",
                    )
                ]
            )
    elif isinstance(node, dict):
        last = str(last) if isinstance(last, int) else last
    else:
        raise ConfigError(
            [
                Problem(
                    where,
                    format_path(tuple(parts[:-1])),
                    f"cannot set a key inside {describe_value(node)}",
                )
            ]
        )
    node[last] = value_doc.data
    path = tuple(parts[:-1]) + (last,)
    for table in (doc.marks, doc.key_marks):
        for key in [k for k in table if k[: len(path)] == path]:
            del table[key]
    for sub in value_doc.marks:
        doc.marks[path + sub] = where
    doc.key_marks[path] = where


def read_text(path: Path) -> str:
    """The text of a config file, or a `ConfigError` saying why it cannot be one."""
    where = str(path)
    if not path.exists():
        raise ConfigError([Problem(where, "", "no such file")])
    if path.is_dir():
        raise ConfigError([Problem(where, "", "is a directory, not a config file")])
    if not path.is_file():
        raise ConfigError([Problem(where, "", "is not a regular file")])
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            [
                Problem(
                    where,
                    "",
                    f"larger than {MAX_CONFIG_BYTES} bytes; a config is a small text file",
                )
            ]
        )
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise ConfigError(
            [
                Problem(
                    f"{where}:{line}",
                    "",
                    f"not UTF-8 text (byte 0x{path.read_bytes()[error.start]:02x})",
                )
            ]
        ) from None
    except OSError as error:
        raise ConfigError([Problem(where, "", f"cannot read ({error.strerror})")]) from None


def load_document(path: str | Path, overrides: list[str] = ()) -> Document:
    """Read a config file (and the chain it `extends:`), apply `--set`, keeping positions."""
    doc, chain = resolve(Path(path), lambda p: load_yaml(read_text(p), str(p)))
    doc.chain = chain
    return _overridden(doc, overrides)


def load_data(data, overrides: list[str] = (), source: str = "<dict>") -> Document:
    """A config given as Python data (the API's `dict`), placed as `source` in messages."""
    doc = Document(data=data, source=source)
    doc.marks[()] = source
    return _overridden(doc, overrides)


def _overridden(doc: Document, overrides) -> Document:
    """Shorthands expanded, then each `--set` applied (and what it set expanded too)."""
    if isinstance(doc.data, dict):
        _normalise(doc)
        for raw in overrides:
            apply_override(doc, raw)
        _normalise(doc)
    return doc
