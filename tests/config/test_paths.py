"""A wrong `--set` is blamed on itself, and suggested by its full dotted path."""

from __future__ import annotations

import pytest

from cbrun.config.loading import load_config
from cbrun.config.paths import known_paths, suggest_path
from cbrun.errors import ConfigError
from tests.conftest import CONFIGS


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("epochs", "fit.epochs"),
        ("fit.epoch", "fit.epochs"),
        ("optimizer.learning_rate", "compile.optimizer.args.learning_rate"),
        ("learning_rate", "compile.optimizer.args.learning_rate"),
        ("data.flaten", "data.flatten"),
        ("units", "model.args.units"),
        ("sweep.trails", "sweep.trials"),
    ],
)
def test_a_partial_or_misspelt_path_gets_the_whole_one(typed, suggested):
    assert suggest_path(typed) == f" (did you mean {suggested}?)"


def test_nothing_close_suggests_nothing():
    assert suggest_path("zzzqqq") == ""
    assert "fit.epochs" in known_paths() and "sweep.int" not in known_paths()


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "optimizer.learning_rate=0.01",
            "--set optimizer.learning_rate=0.01: optimizer: unknown key "
            "(did you mean compile.optimizer.args.learning_rate?)",
        ),
        ("epochs=3", "--set epochs=3: epochs: unknown key (did you mean fit.epochs?)"),
        ("fit.epoch=3", "--set fit.epoch=3: fit.epoch: unknown key (did you mean fit.epochs?)"),
        (
            "model.args.unitz=[3]",
            "--set model.args.unitz=[3]: model.args.unitz: unknown argument of mlp "
            "(did you mean 'units'?)",
        ),
    ],
)
def test_a_wrong_set_is_blamed_on_itself_not_the_file(override, line):
    with pytest.raises(ConfigError) as caught:
        load_config(CONFIGS / "mnist_mlp.yaml", [override])
    assert str(caught.value).splitlines() == [line]
