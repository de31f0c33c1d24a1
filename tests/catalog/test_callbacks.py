"""The callback catalog cannot drift from the installed Keras, and lists everything."""

from __future__ import annotations

import json

import pytest

from cbrun.build import signatures
from cbrun.catalog.callbacks import callback_registry

NAMES = callback_registry().names()


def test_signature_table_matches_the_live_classes():
    assert signatures.main(["--check"]) == 0, "run `make signatures`"


def test_every_builtin_the_issue_names_is_there():
    wanted = {
        "EarlyStopping",
        "ModelCheckpoint",
        "BackupAndRestore",
        "CSVLogger",
        "TensorBoard",
        "ReduceLROnPlateau",
        "LearningRateScheduler",
        "TerminateOnNaN",
        "SwapEMAWeights",
        "BatchTimestamps",
        "LossAndErrorPrinting",
        "EarlyStoppingAtMinLoss",
        "ScheduledLearningRate",
        "CustomCallback",
    }
    assert wanted <= set(NAMES)
    registry = callback_registry()
    for refused in ("RemoteMonitor", "LambdaCallback", "BackupAndRestore"):
        assert registry.get(refused).unavailable


@pytest.mark.parametrize("name", NAMES)
def test_each_callback_is_listed_and_described(name, cli):
    listing = cli("list-callbacks")
    assert listing.exit_code == 0 and name in listing.stdout
    one = cli("list-callbacks", name, "--json")
    assert one.exit_code == 0
    described = json.loads(one.stdout)
    assert described["name"] == name and described["summary"]
    assert described["origin"] in ("keras", "cbrun")
    for argument in described["arguments"]:
        assert {"name", "type", "default", "required"} <= set(argument)
    text = cli("list-callbacks", name)
    assert text.exit_code == 0
    # The YAML snippet, for what a config can use (issue 23: none for the refused ones).
    assert (f"- name: {name}" in text.stdout) == (described["available"] is True)


def test_the_listing_holds_what_each_description_says(cli):
    listed = json.loads(cli("list-callbacks", "--json").stdout)
    assert [e["name"] for e in listed] == NAMES
    for entry in listed:
        assert json.loads(cli("list-callbacks", entry["name"], "--json").stdout) == entry


def test_unknown_name_suggests(cli):
    result = cli("list-callbacks", "EarlyStoping")
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "Error: unknown callback 'EarlyStoping' (did you mean 'EarlyStopping'?)"
    )
