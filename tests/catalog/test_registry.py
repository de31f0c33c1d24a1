"""The registry: decorator registration, duplicates, suggestions, build, description."""

from __future__ import annotations

import pytest

from cbrun.catalog.registry import Registry, UnknownNameError
from cbrun.errors import UsageError


def test_register_build_and_describe():
    local = Registry("widget")

    @local.register()
    def gadget(size: int = 3, label: str = "x"):
        """Makes a gadget.

        Longer text.
        """
        return (size, label)

    assert local.build({"name": "gadget", "size": 5}) == (5, "x")
    entry = local.get("gadget")
    assert entry.summary == "Makes a gadget." and entry.origin == "cbrun"
    assert [(a.name, a.types, a.default) for a in entry.arguments] == [
        ("size", ("integer",), 3),
        ("label", ("string",), "x"),
    ]


def test_duplicate_names_the_holder():
    local = Registry("widget")
    local.register(lambda: 1, name="thing")
    with pytest.raises(UsageError, match="widget 'thing' is already registered by"):
        local.register(lambda: 2, name="thing")


def test_unknown_name_suggests_closest():
    local = Registry("widget")
    local.register(lambda: 1, name="EarlyStopping")
    with pytest.raises(
        UnknownNameError, match=r"unknown widget 'EarlyStoping' \(did you mean 'EarlyStopping'\?\)"
    ):
        local.get("EarlyStoping")
