"""A refused plugin is a config problem at its file:line, found before TensorFlow; a
plugin module that fails on import names its own file and line."""

from __future__ import annotations

import pytest

from cbrun.config.loading import load_config
from cbrun.errors import ConfigError
from tests.conftest import cbrun_loads_tensorflow

HEAD = "compile: {optimizer: adam, loss: mean_squared_error}\nfit: {epochs: 1}\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("os:system", "plugin 'os:system': the module os is never allowed"),
        ("../x:build", "'../x:build' is not a plugin reference (write package.module:ClassName)"),
        ("mine:build", "plugin 'mine:build' is not allowed: list mine under plugins: in the"),
    ],
)
def test_a_refused_model_plugin_is_a_config_line(name, message, write_config):
    path = write_config(f"model: {{name: '{name}'}}\n" + HEAD)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{path}:1:15: model.name: ") and message in line


def test_a_refused_callback_plugin_is_a_config_line_and_allow_plugin_allows_it(write_config):
    path = write_config("model: {name: mlp}\n" + HEAD + "callbacks: [{name: 'mine:Cb'}]\n")
    with pytest.raises(ConfigError, match=r":4:20: callbacks\[0\].name: plugin 'mine:Cb' is not"):
        load_config(path)
    assert load_config(path, allow_plugins=["mine"]).callbacks[0].name == "mine:Cb"


def test_validate_refuses_it_without_tensorflow(write_config):
    path = write_config("model: {name: 'subprocess:run'}\n" + HEAD)
    out, loaded = cbrun_loads_tensorflow("validate", path)
    assert (out.returncode, loaded) == (2, False), out.stderr
    assert "the module subprocess is never allowed" in out.stderr


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        ("import os\nraise RuntimeError('boom')\n", 2, "RuntimeError: boom"),
        ("def broken(:\n", 1, "SyntaxError: invalid syntax"),
    ],
)
def test_a_plugin_module_that_fails_on_import_names_its_line(source, line, what, tmp_path, cli):
    (tmp_path / "noisy_mod.py").write_text(source)
    config = tmp_path / "c.yaml"
    config.write_text(
        "plugins: [noisy_mod]\ndata: {source: bundled, limit: {train: 64, test: 32}}\n"
        "model: {name: mlp}\ncompile: {loss: sparse_categorical_crossentropy}\n"
        "fit: {epochs: 1}\ncallbacks: [{name: 'noisy_mod:Cb'}]\n"
    )
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    (error,) = [text for text in result.stderr.splitlines() if text.startswith("Error:")]
    assert error.startswith(f"Error: {tmp_path / 'noisy_mod.py'}:{line}: plugin 'noisy_mod:Cb'")
    assert what in error and "Traceback" not in result.stderr
    runs = tmp_path / "runs"
    assert (list(runs.iterdir()) if runs.exists() else []) == []  # no run folder left
