"""Each guarantee (docs/explanation/guarantees.md) names the tests that hold it, and those
tests exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _guarantees() -> list[str]:
    text = (ROOT / "docs" / "explanation" / "guarantees.md").read_text(encoding="utf-8")
    section = text.split("# What cbrun guarantees\n", 1)[1].split("\nNot covered:", 1)[0]
    return [item for item in re.split(r"\n- ", section)[1:]]


def test_every_guarantee_names_a_test_that_exists():
    guarantees = _guarantees()
    assert len(guarantees) >= 12
    for item in guarantees:
        named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", item)
        assert named, f"names no test: {item[:80]}"
        for file, name in named:
            tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
            defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert name in defined, f"{file}::{name} (README) does not exist"
