"""The file read with positions, shorthands and `--set`, before any validation."""

from __future__ import annotations

import pytest

from cbrun.config.source import apply_override, load_data, load_document
from cbrun.errors import ConfigError
from tests.conftest import CONFIGS


def test_a_document_keeps_positions_and_applies_overrides():
    doc = load_document(CONFIGS / "early_stop.yaml", ["fit.epochs=5"])
    assert doc.data["fit"]["epochs"] == 5
    assert doc.where(("model", "name")).startswith(str(CONFIGS / "early_stop.yaml") + ":")


def test_a_list_item_is_overridden_by_index():
    doc = load_data({"callbacks": [{"name": "EarlyStopping", "args": {"patience": 1}}]})
    apply_override(doc, "callbacks.0.args.patience=4")
    assert doc.data["callbacks"][0]["args"]["patience"] == 4


def test_an_override_without_a_value_is_one_problem():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_document(CONFIGS / "early_stop.yaml", ["fit.epochs"])
