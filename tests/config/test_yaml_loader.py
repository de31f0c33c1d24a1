"""The YAML 1.2 reader: scalars, refusals and the position of every value."""

from __future__ import annotations

import math

import pytest

from cbrun.config.yaml_loader import load_yaml
from cbrun.errors import ConfigError


@pytest.mark.parametrize(
    "text,value",
    [
        ("1e-3", 1e-3),
        ("1.5e3", 1500.0),
        ("-2.5", -2.5),
        (".5", 0.5),
        ("42", 42),
        ("0x1F", 31),
        ("0o17", 15),
        ("0", 0),
        ("true", True),
        ("False", False),
        ("yes", "yes"),  # YAML 1.1 would make these booleans
        ("on", "on"),
        ("no", "no"),
        ("null", None),
        ("~", None),
        ("2026-11-22", "2026-11-22"),  # dates stay strings
        ("'3'", "3"),
    ],
)
def test_yaml_1_2_scalars(text, value):
    assert load_yaml(f"key: {text}\n", "c.yaml").data == {"key": value}


def test_infinities_and_nan():
    data = load_yaml("a: .inf\nb: -.inf\nc: .nan\n", "c.yaml").data
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "a: 010\n",
            "c.yaml:1:4: a: '010' has a leading zero, which YAML 1.1 reads as octal; "
            "write 10 (or 0o10 for octal)",
        ),
        ("a: 1\nb: 2\na: 3\n", "c.yaml:3:1: a: duplicate key (first defined at line 1)"),
        ("base: &b {x: 1}\nc:\n  <<: *b\n", "c.yaml:3:3: c: merge keys (<<) are not supported"),
        ("1: x\n", "c.yaml:1:1: keys must be plain strings"),
        (
            "a: !!python/object:os.system {}\n",
            "c.yaml:1:4: a: unsupported tag !!python/object:os.system",
        ),
        ("a: !!int abc\n", "c.yaml:1:4: a: 'abc' is not a valid !!int"),
        ("a:\n\t- 1\n", "c.yaml:2:1: invalid YAML: a tab character; YAML indents with spaces only"),
    ],
)
def test_refusals_name_the_line_and_column(text, message):
    with pytest.raises(ConfigError) as raised:
        load_yaml(text, "c.yaml")
    assert str(raised.value) == message


def test_every_problem_is_reported_not_only_the_first():
    with pytest.raises(ConfigError) as raised:
        load_yaml("a: 010\nb: 1\nb: 2\n", "c.yaml")
    assert [p.where for p in raised.value.problems] == ["c.yaml:1:4", "c.yaml:3:1"]


def test_positions_of_values_and_keys():
    doc = load_yaml("fit:\n  epochs: 3\ncallbacks:\n  - name: X\n    args: {p: 1}\n", "c.yaml")
    assert doc.where(("fit", "epochs")) == "c.yaml:2:11"
    assert doc.where(("fit", "epochs"), key=True) == "c.yaml:2:3"
    assert doc.where(("callbacks", 0, "args", "p")) == "c.yaml:5:15"
    # A path that does not exist is placed at its nearest ancestor.
    assert doc.where(("fit", "batch_size")) == "c.yaml:2:3"
    assert doc.where(("nowhere",)) == "c.yaml:1:1"


def test_an_empty_file_is_none_placed_at_its_start():
    doc = load_yaml("", "c.yaml")
    assert doc.data is None and doc.where(()) == "c.yaml:1:1"


def test_alias_expansion_is_bounded():
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 7):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    with pytest.raises(ConfigError, match="more than 100000 values"):
        load_yaml("\n".join(lines) + "\n", "bomb.yaml")
