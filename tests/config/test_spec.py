"""The sections' models: defaults written once, strict types, run names that name folders."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cbrun.config.spec import RunSpec

MINIMAL = {"model": {"name": "linear"}, "compile": {"loss": "mae"}, "fit": {}}


def test_defaults_fill_every_section():
    spec = RunSpec.model_validate(MINIMAL)
    assert spec.seed == 0 and spec.callbacks == [] and spec.sweep is None
    # `auto` until a config is loaded: cbrun/config/shapes.py decides (tests/config/test_shapes.py)
    assert spec.data.dataset == "mnist" and spec.data.flatten == "auto"
    assert spec.compile.optimizer.name == "rmsprop"


def test_no_coercion_and_no_unknown_keys():
    with pytest.raises(ValidationError):
        RunSpec.model_validate({**MINIMAL, "seed": "3"})
    with pytest.raises(ValidationError):
        RunSpec.model_validate({**MINIMAL, "fit": {"epoch": 3}})


def test_a_run_name_must_name_a_folder():
    with pytest.raises(ValidationError, match="cannot name a run folder"):
        RunSpec.model_validate({**MINIMAL, "name": "../up"})


def test_to_yaml_writes_defaults_and_optionally_every_argument():
    spec = RunSpec.model_validate(MINIMAL)
    assert "steps_per_execution: auto" in spec.to_yaml()
    assert "rho:" in spec.to_yaml(argument_defaults=True)  # RMSprop's own default
