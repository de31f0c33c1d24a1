"""`extends:` composes configs; every value keeps the file and line that set it."""

from __future__ import annotations

import pytest

from cbrun.config.loading import load_config
from cbrun.errors import ConfigError

BASE = """\
name: base
data: {dataset: mnist, source: bundled, limit: {train: 256, test: 64}}
model: {name: linear}
compile:
  optimizer: {name: rmsprop, args: {learning_rate: 0.01}}
  loss: mean_squared_error
  metrics: [mae]
fit: {batch_size: 32, epochs: 2, steps_per_epoch: 2}
callbacks:
  - LossAndErrorPrinting
"""


@pytest.fixture
def chain(tmp_path):
    """base.yaml <- mid.yaml (in a sub-folder: relative paths) <- the file written by `make`."""
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mid.yaml").write_text("extends: ../base.yaml\nfit: {epochs: 3}\n")

    def make(text: str):
        path = tmp_path / "sub" / "exp.yaml"
        path.write_text("extends: mid.yaml\n" + text)
        return path

    return make


def test_a_chain_merges_mappings_and_replaces_lists(chain):
    spec = load_config(chain("compile: {metrics: [mse]}\nname: exp\n"))
    assert spec.fit.epochs == 3 and spec.fit.batch_size == 32  # mid over base, key by key
    assert spec.compile.metrics == ["mse"]  # a list replaces
    assert spec.compile.loss == "mean_squared_error" and spec.name == "exp"
    assert [c.name for c in spec.callbacks] == ["LossAndErrorPrinting"]


def test_key_plus_appends_to_the_base_list(chain):
    spec = load_config(chain("callbacks+:\n  - {name: EarlyStopping, args: {monitor: loss}}\n"))
    assert [c.name for c in spec.callbacks] == ["LossAndErrorPrinting", "EarlyStopping"]


def test_errors_point_into_whichever_file_set_the_value(chain, tmp_path):
    (tmp_path / "base.yaml").write_text(BASE.replace("mean_squared_error", "mean_squared_eror"))
    config = chain("callbacks+:\n  - {name: EarlyStopping, args: {monitor: loss, patiense: 2}}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert sorted(str(p) for p in raised.value.problems) == [
        f"{tmp_path / 'base.yaml'}:6:9: compile.loss: unknown loss 'mean_squared_eror' "
        "(did you mean 'mean_squared_error'?)",
        f"{config}:3:49: callbacks[1].args.patiense: unknown argument of EarlyStopping "
        "(did you mean 'patience'?)",
    ]


def test_a_cycle_is_an_error(tmp_path, cli):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    result = cli("validate", tmp_path / "a.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {tmp_path / 'b.yaml'}:1:10: extends: a cycle: {tmp_path / 'a.yaml'} -> "
        f"{tmp_path / 'b.yaml'} -> {tmp_path / 'a.yaml'}\n"
    )


def test_appending_to_what_is_not_a_list_is_refused(chain):
    with pytest.raises(ConfigError, match=r"fit\+ appends to a list, but fit is a mapping"):
        load_config(chain("fit+: [1]\n"))


def test_origins_name_the_file_of_each_value(chain, cli, tmp_path):
    config = chain("name: exp\n")
    result = cli("validate", config, "--origins", "--set", "seed=7")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"fit.epochs = 3  # {tmp_path / 'sub' / 'mid.yaml'}:2:15" in lines
    assert f'compile.loss = "mean_squared_error"  # {tmp_path / "base.yaml"}:6:9' in lines
    assert f'name = "exp"  # {config}:2:7' in lines
    assert "seed = 7  # --set seed=7" in lines


def test_the_run_records_the_chain_with_sha256(chain, cli, tmp_path):
    import hashlib

    config = chain("name: exp\n")
    result = cli("train", config, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    header = (tmp_path / "run" / "config.yaml").read_text().splitlines()[:3]
    files = [config, tmp_path / "sub" / "mid.yaml", tmp_path / "base.yaml"]
    digests = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert header == [
        f"# resolved from {config} (sha256 {digests[0]})",
        f"#   extending {files[1]} (sha256 {digests[1]})",
        f"#   extending {files[2]} (sha256 {digests[2]})",
    ]
    assert "extends" not in (tmp_path / "run" / "config.yaml").read_text().split("\n", 3)[3]
