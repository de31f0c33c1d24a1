"""The exported JSON Schema: current, accepted by every shipped config, refusing mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cbrun.config.json_schema import json_schema
from cbrun.config.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*ROOT.glob("configs/*.yaml"), *ROOT.glob("examples/*/*.yaml")])


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _data(text: str):
    return load_yaml(text, "config.yaml").data  # YAML 1.2, as cbrun reads it


def test_the_shipped_schema_is_current(cli):
    result = cli("schema")
    assert result.exit_code == 0
    shipped = (ROOT / "configs" / "cbrun.schema.json").read_text()
    assert json.loads(result.stdout) == json.loads(shipped), "run `make signatures`"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_config_is_valid_and_points_at_the_schema(path, validator):
    text = path.read_text()
    schema = (
        "cbrun.schema.json" if path.parent.name == "configs" else "../../configs/cbrun.schema.json"
    )
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={schema}"
    assert (path.parent / schema).is_file()
    assert list(validator.iter_errors(_data(text))) == []


VALID = """
model: {name: sequential, args: {layers: [Flatten, {name: Dense, args: {units: 10}}]}}
compile:
  optimizer: {name: adam, args: {learning_rate: 0.001}}
  loss: {name: SparseCategoricalCrossentropy, args: {from_logits: true}}
  metrics: [accuracy, {name: AUC, args: {curve: PR}}]
fit: {epochs: 2}
data: {validation_split: 0.1}
callbacks:
  - EarlyStopping
  - {name: ReduceLROnPlateau, args: {monitor: loss, factor: 0.5}}
  - {name: 'my_plugins:Timer', args: {anything: 1}}
"""
REJECTED = {
    "unknown loss": (
        "loss: {name: SparseCategoricalCrossentropy, args: {from_logits: true}}",
        "loss: mean_squared_eror",
    ),
    "unknown metric": ("metrics: [accuracy", "metrics: [maee"),
    "optimizer argument type": ("learning_rate: 0.001}", "beta_1: high}"),
    "optimizer argument typo": ("learning_rate: 0.001}", "learning_rat: 0.1}"),
    "unknown layer": ("[Flatten,", "[Dence,"),
    "layer argument typo": ("{units: 10}", "{unitz: 10}"),
    "callback argument typo": ("factor: 0.5", "facter: 0.5"),
    "callback argument type": ("factor: 0.5", "factor: high"),
    "unknown callback": ("- EarlyStopping", "- EarlyStoping"),
    "loss class argument": ("from_logits: true", "from_logits: 'yes'"),
}


def test_a_rich_valid_config_is_accepted(validator, write_config, cli):
    assert list(validator.iter_errors(_data(VALID))) == []
    # Its plugin callback is allowed on the command line, as train would be told.
    result = cli("validate", write_config(VALID), "--allow-plugin", "my_plugins")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("change", REJECTED.values(), ids=REJECTED.keys())
def test_the_schema_rejects_what_cbrun_rejects(change, validator, write_config, cli):
    old, new = change
    assert old in VALID
    text = VALID.replace(old, new, 1)
    assert list(validator.iter_errors(_data(text))), f"the schema accepts: {new}"
    assert cli("validate", write_config(text)).exit_code == 2  # and so does cbrun


def test_another_keras_version_is_never_a_silent_mismatch(tmp_path, monkeypatch, capsys):
    from cbrun.catalog import keras_table as keras_signatures

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(keras_signatures, "installed_keras", lambda: "3.99.0")
    keras_signatures.table.cache_clear()
    try:
        shipped = keras_signatures.table()
        note = capsys.readouterr().err
        assert "Keras 3.99.0 is installed" in note
        assert "python -m cbrun.build.signatures --cache" in note
        made = dict(shipped, generated_from={"keras": "3.99.0"})
        keras_signatures.cache_path("3.99.0").parent.mkdir(parents=True)
        keras_signatures.cache_path("3.99.0").write_text(json.dumps(made))
        keras_signatures.table.cache_clear()
        assert keras_signatures.table()["generated_from"] == {"keras": "3.99.0"}
        assert capsys.readouterr().err == ""
    finally:
        keras_signatures.table.cache_clear()


def test_arguments_are_checked_against_the_generated_model_of_each_name():
    from cbrun.config.arguments import arguments_problems, defaults_of

    assert arguments_problems("callback", "EarlyStopping", {"patience": 2}) == []
    (sub, message, _), *_ = arguments_problems("callback", "EarlyStopping", {"patiense": 2})
    assert sub == ("patiense",) and "did you mean 'patience'" in message
    assert defaults_of("model", "mlp") == {"units": [64], "activation": "relu", "dropout": 0.0}
