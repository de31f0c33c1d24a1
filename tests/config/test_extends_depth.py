"""`extends:` to a folder, and a chain too long to be real: one line each, no RecursionError."""

from __future__ import annotations

import pytest

from cbrun.config.composition import MAX_CHAIN
from cbrun.config.loading import load_config
from cbrun.errors import ConfigError

BASE = "model: {name: mlp}\ncompile: {loss: mean_squared_error}\nfit: {epochs: 1}\n"


def _chain(folder, files: int):
    for index in range(files - 1):
        (folder / f"c{index}.yaml").write_text(f"extends: c{index + 1}.yaml\n")
    (folder / f"c{files - 1}.yaml").write_text(BASE)
    return folder / "c0.yaml"


def test_a_chain_of_the_limit_loads(tmp_path):
    spec = load_config(_chain(tmp_path, MAX_CHAIN))
    assert len(spec._chain) == MAX_CHAIN


@pytest.mark.parametrize("files", [MAX_CHAIN + 1, 3000])
def test_a_longer_chain_is_one_line(tmp_path, files):
    with pytest.raises(ConfigError) as caught:
        load_config(_chain(tmp_path, files))
    (line,) = str(caught.value).splitlines()
    assert f"extends: the chain is longer than {MAX_CHAIN} files" in line
    assert line.startswith(str(tmp_path / f"c{MAX_CHAIN - 1}.yaml") + ":1:10: ")


def test_extends_to_a_folder_says_so(tmp_path):
    (tmp_path / "base.yaml").mkdir()
    (tmp_path / "child.yaml").write_text("extends: base.yaml\n")
    with pytest.raises(ConfigError, match=r"base.yaml is a folder, not a config file"):
        load_config(tmp_path / "child.yaml")
