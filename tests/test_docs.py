"""The documentation cannot drift: every snippet runs, the references match the code.

- Each ```yaml block of the README and docs/ is a config that `cbrun validate` accepts: whole,
  or, when its first line says `# fragment of PATH`, merged onto that config first.
- Each `cbrun ...` line of a code block is a command click accepts (its command and every
  option exist). The commands that import nothing (`validate`, `list-callbacks`, `schema`)
  are run here; every other command's name and options must be run by `make smoke`
  (scripts/smoke.sh), unless the block is followed by a visible "*Not run by the tests: ...*".
- The built site (MkDocs, `--strict`, into a temporary folder) lists every command and option
  of the click group, and every key of `cbrun schema`.
- The README stays under 150 lines.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from cbrun.cli.main import cli
from cbrun.config.loading import load_config

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n(?:\n(\*Not run by the tests: [^*]+\*))?", re.S | re.M)
FRAGMENT = re.compile(r"^# fragment of (\S+)")
RUN_HERE = {"validate", "list-callbacks", "schema"}
SMOKE = (ROOT / "scripts" / "smoke.sh").read_text(encoding="utf-8")


def _blocks(kinds):
    for page in PAGES:
        for found in BLOCK.finditer(page.read_text(encoding="utf-8")):
            if found.group(1) in kinds:
                line = page.read_text(encoding="utf-8")[: found.start()].count("\n") + 1
                yield f"{page.relative_to(ROOT)}:{line}", found.group(2), found.group(3)


def _merge(base: dict, fragment: dict) -> dict:
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _folders_the_docs_name(where: Path) -> None:
    """The image folders the snippets point at: two classes, two tiny PNGs each."""
    from PIL import Image

    for folder in ("photos", "examples/transfer/photos", "examples/own_images/digits"):
        for label in ("a", "b"):
            (where / folder / label).mkdir(parents=True, exist_ok=True)
            for index in range(2):
                pixels = np.full((8, 8, 3), 40 * index, np.uint8)
                Image.fromarray(pixels).save(where / folder / label / f"{index}.png")


YAML_BLOCKS = list(_blocks({"yaml", "yml"}))


@pytest.mark.parametrize(("where", "text", "_"), YAML_BLOCKS, ids=[b[0] for b in YAML_BLOCKS])
def test_every_yaml_block_validates(where, text, _, tmp_path, monkeypatch):
    fragment = FRAGMENT.match(text)
    data = yaml.safe_load(text) or {}
    if fragment:
        base = yaml.safe_load((ROOT / fragment.group(1)).read_text(encoding="utf-8"))
        data = _merge(base, data)
    _folders_the_docs_name(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    load_config(config)  # raises ConfigError with each problem's line


def _commands():
    for where, text, reason in _blocks({"", "console", "bash", "sh", "shell"}):
        for line in text.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("cbrun ") and not line.endswith("\\"):
                yield where, line.split(" #")[0].strip(), reason


COMMANDS = list(_commands())


@pytest.mark.parametrize(("where", "command", "reason"), COMMANDS, ids=[c[1] for c in COMMANDS])
def test_every_cbrun_command_in_the_docs_parses_and_runs_somewhere(where, command, reason):
    args = shlex.split(command)[1:]
    name = args[0]
    sub = cli.get_command(click.Context(cli), name)
    assert sub is not None, f"{where}: no command {name!r}"
    options = [arg.split("=")[0] for arg in args[1:] if arg.startswith("-")]
    known = {opt for param in sub.params for opt in (*param.opts, *param.secondary_opts)}
    assert set(options) <= known, f"{where}: {command}: unknown {set(options) - known}"
    if name in RUN_HERE:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, f"{where}: {command}: {result.output}{result.stderr}"
        return
    if reason:
        return
    runs = [line for line in SMOKE.splitlines() if f'"$CBRUN" {name}' in line]
    assert runs, f"{where}: `cbrun {name}` is run by no line of scripts/smoke.sh"
    for option in options:
        assert any(option in line for line in runs) or option in SMOKE, (
            f"{where}: {command}: {option} is run by no line of scripts/smoke.sh"
        )


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("MkDocs is not installed: pip install -e '.[docs]'")
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-q", "-d", folder],
        cwd=ROOT, capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1", "PATH": ""},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    return folder


def test_the_cli_reference_lists_every_command_and_option(site):
    page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    context = click.Context(cli)
    for name in cli.list_commands(context):
        assert f"cbrun {name}" in page, name
        for param in cli.get_command(context, name).params:
            for opt in param.opts if isinstance(param, click.Option) else ():
                assert opt in page, f"{name} {opt}"


def _schema_keys(schema: dict) -> list[str]:
    """Every key of the config's own sections (an independent walk of `cbrun schema`)."""
    defs, keys = schema["$defs"], []

    def sections(node):
        refs = [node] + node.get("anyOf", [])
        for ref in refs:
            target = defs.get(ref.get("$ref", "").rsplit("/", 1)[-1])
            if target and "properties" in target and target["title"].endswith("Spec"):
                yield target

    def walk(properties, prefix):
        for key, node in properties.items():
            keys.append(prefix + key)
            for section in sections(node):
                walk(section["properties"], f"{prefix}{key}.")

    walk(schema["properties"], "")
    return keys


def test_the_config_reference_lists_every_key_of_the_schema(site):
    from cbrun.config.json_schema import json_schema

    page = (site / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    keys = _schema_keys(json_schema())
    assert len(keys) > 60
    missing = [key for key in keys if f"<code>{key}</code>" not in page]
    assert not missing, missing


def test_every_config_key_has_a_description():
    """A new field without a docstring fails here (pydantic's `use_attribute_docstrings`)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from docs_reference import config_rows
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    undescribed = [key for key, *_, said in config_rows() if not said]
    assert not undescribed, undescribed
    from cbrun.config.base import _Section

    # ...because every section takes its fields' docstrings as their descriptions
    assert _Section.model_config["use_attribute_docstrings"]


def test_the_exit_codes_page_lists_every_error(site):
    from cbrun import errors

    page = (site / "reference" / "exit-codes" / "index.html").read_text(encoding="utf-8")
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, errors.CbrunError):
            assert f"<code>{name}</code>" in page, name
