"""Read YAML into plain Python values, remembering where every value came from.

PyYAML's safe loader follows YAML 1.1, whose traps bite config files: `1e-3`
is a string, `010` is octal 8, `yes`/`on` are booleans, and a repeated key
silently replaces the first. cbrun composes the node tree (which never runs
constructors, so `!!python/...` tags cannot execute anything) and builds the
values itself with YAML 1.2 rules:

- `true`/`false` are the only booleans; `yes`, `no`, `on`, `off` stay strings.
- `1e-3`, `1.5e3`, `.inf`, `.nan` are floats; `0x1F` and `0o17` are integers.
- An integer written with a leading zero (`010`) is refused, not guessed.
- A repeated key, a merge key (`<<`), a non-string key and any tag outside
  str/int/float/bool/null/seq/map are refused, with their line.
- Dates stay strings.

Every value's position is kept in `Document.marks` (and every key's in
`Document.key_marks`), keyed by its path such as `("callbacks", 1, "args")`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import yaml

from cbrun.errors import ConfigError, Problem

Path = tuple  # of str | int

# Aliases can make a small file expand into a huge tree ("billion laughs").
MAX_VALUES = 100_000
_STD = "tag:yaml.org,2002:"
_LEADING_ZERO_TAG = "tag:cbrun,2026:leading-zero-int"


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalar resolution (see the module docstring)."""

    yaml_implicit_resolvers: dict = {}


def _resolver(tag: str, pattern: str, first: str) -> None:
    _Yaml12Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


_resolver(_STD + "merge", r"^<<$", "<")
_resolver(_STD + "bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_resolver(_STD + "null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_resolver(_LEADING_ZERO_TAG, r"^[-+]?0[0-9_]+$", "-+0")
_resolver(_STD + "int", r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$", "-+0123456789")
_resolver(
    _STD + "float",
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
    "-+0123456789.",
)


def format_path(path: Path) -> str:
    """`("callbacks", 1, "args")` → `callbacks[1].args`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def describe_value(value) -> str:
    """How a value reads in an error message, with its YAML type when it could mislead."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}' (a string)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _where(source: str, mark) -> str:
    if source.startswith("--set "):
        return source  # a one-line value: the override itself says where
    return f"{source}:{mark.line + 1}:{mark.column + 1}"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


@dataclass
class Document:
    """Plain data read from YAML, with the position of every value and key."""

    data: object
    source: str
    marks: dict = field(default_factory=dict)
    key_marks: dict = field(default_factory=dict)
    chain: list = field(default_factory=list)  # the files it was composed from (`extends:`)

    def data_at(self, path: Path):
        """The value at `path`, or None when there is none."""
        node = self.data
        try:
            for part in path:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
        return node

    def where(self, path: Path, *, key: bool = False) -> str:
        """The position of `path` (or of its key), else of its nearest ancestor."""
        table = self.key_marks if key else self.marks
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.marks.get((), self.source)


# The one mapping whose keys are numbers: class ids. Every other key is a plain string.
CLASS_ID_KEYS = ("class_weight",)


def _class_id(node, path) -> bool:
    return (
        isinstance(node, yaml.ScalarNode)
        and node.tag == _STD + "int"
        and bool(path)
        and path[-1] in CLASS_ID_KEYS
        and node.value.isdigit()
    )


class _Builder:
    """Turns a composed node tree into Python values, collecting problems."""

    def __init__(self, source: str, root: tuple = ()):
        self.source = source
        self.root = root  # where in the config this text goes (a --set value's key path)
        self.doc = Document(data=None, source=source)
        self.problems: list[Problem] = []
        self.count = 0

    def problem(self, mark, path: Path, message: str) -> None:
        self.problems.append(Problem(_where(self.source, mark), format_path(path), message))

    def build(self, node, path: Path):
        self.count += 1
        if self.count > MAX_VALUES:
            raise ConfigError(
                [Problem(self.source, "", f"more than {MAX_VALUES} values (alias expansion?)")]
            )
        self.doc.marks[path] = _where(self.source, node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _STD + "seq":
                self.problem(node.start_mark, path, f"unsupported tag {_short_tag(node.tag)}")
                return None
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag != _STD + "map":
            self.problem(node.start_mark, path, f"unsupported tag {_short_tag(node.tag)}")
            return None
        return self.mapping(node, path)

    def mapping(self, node, path: Path) -> dict:
        result: dict = {}
        first_seen: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                self.problem(key_node.start_mark, path, "merge keys (<<) are not supported")
                continue
            if _class_id(key_node, self.root + path):
                key = int(key_node.value)  # fit.class_weight: {0: 1.0, 7: 3.0}
            elif not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STD + "str":
                self.problem(key_node.start_mark, path, "keys must be plain strings")
                continue
            else:
                key = key_node.value
            if key in first_seen:
                self.problem(
                    key_node.start_mark,
                    path + (key,),
                    f"duplicate key (first defined at line {first_seen[key]})",
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.doc.key_marks[path + (key,)] = _where(self.source, key_node.start_mark)
            result[key] = self.build(value_node, path + (key,))
        return result

    def scalar(self, node, path: Path):
        tag, text = node.tag, node.value
        if tag == _STD + "str" or tag == _STD + "timestamp":
            return text
        if tag == _STD + "null":
            return None
        if tag == _STD + "bool":
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
        elif tag == _STD + "int":
            try:
                return int(text, 0)
            except ValueError:
                pass
        elif tag == _STD + "float":
            lowered = text.lower().lstrip("+")
            if lowered in (".inf", "-.inf", ".nan"):
                return {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[lowered]
            try:
                return float(text)
            except ValueError:
                pass
        elif tag == _LEADING_ZERO_TAG:
            self.problem(
                node.start_mark,
                path,
                f"'{text}' has a leading zero, which YAML 1.1 reads as octal; "
                f"write {int(text.replace('_', ''))} (or 0o{text.lstrip('+-0')} for octal)",
            )
            return None
        else:
            self.problem(node.start_mark, path, f"unsupported tag {_short_tag(tag)}")
            return None
        self.problem(node.start_mark, path, f"'{text}' is not a valid {_short_tag(tag)}")
        return None


def _syntax_problem(source: str, error: yaml.YAMLError) -> Problem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = _where(source, mark) if mark else source
    message = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    if "'\\t'" in message:
        message, context = "a tab character; YAML indents with spaces only", None
    if context:
        message = f"{message} ({context})"
    return Problem(where, "", f"invalid YAML: {message}")


def load_yaml(text: str, source: str, root: tuple = ()) -> Document:
    """Parse one YAML document into a `Document`.

    Args:
        text: the YAML text.
        source: what to call it in messages: a file path or `--set KEY=VALUE`.
        root: the key path the text's value goes to (a `--set` value's), else the top.

    Raises:
        ConfigError: listing every problem found.
    """
    loader = _Yaml12Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as error:
        raise ConfigError([_syntax_problem(source, error)]) from None
    finally:
        loader.dispose()
    builder = _Builder(source, tuple(root))
    if node is None:
        builder.doc.marks[()] = f"{source}:1:1"
        return builder.doc
    builder.doc.data = builder.build(node, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return builder.doc
