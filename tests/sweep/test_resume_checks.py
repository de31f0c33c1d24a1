"""`sweep --resume` never forgets: a sweep folder whose study is gone, foreign or unreadable
is refused in one line, and sweep.json is never rewritten from less than it holds."""

from __future__ import annotations

import json

import pytest

from cbrun.errors import UsageError
from cbrun.sweep.storage import check_holds, never_less, recorded_state
from tests.sweep.test_study import _config, _only


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A finished one-trial sweep, trained once for the module (copy it before damage)."""
    from click.testing import CliRunner

    from cbrun.cli.main import cli

    folder = tmp_path_factory.mktemp("sweep")
    args = [
        "sweep",
        str(_config(folder, trials=1)),
        "--jobs",
        "1",
        "--runs-dir",
        str(folder / "runs"),
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return _only(folder)[0]


@pytest.fixture
def sweep_copy(finished_sweep, tmp_path):
    import shutil

    copy = tmp_path / finished_sweep.name
    shutil.copytree(finished_sweep, copy)
    state = json.loads((copy / "sweep.json").read_text())
    state["storage"] = f"sqlite:///{copy / 'study.db'}"
    (copy / "sweep.json").write_text(json.dumps(state))
    return copy


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_sweep_whose_study_db_is_gone_is_refused_and_nothing_is_rewritten(sweep_copy, cli):
    (sweep_copy / "study.db").unlink()
    before = _snapshot(sweep_copy)
    result = cli("sweep", "--resume", sweep_copy, "--trials", 2)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "its study storage" in line and "is missing; restore it to resume" in line
    assert _snapshot(sweep_copy) == before  # sweep.json and best.yaml untouched
    assert not (sweep_copy / "study.db").exists()  # no new, empty study made


def test_a_foreign_storage_is_refused(sweep_copy, cli, tmp_path):
    state = json.loads((sweep_copy / "sweep.json").read_text())
    state["storage"] = f"sqlite:///{tmp_path / 'other.db'}"
    (tmp_path / "other.db").write_bytes(b"")  # an empty database: no trials
    (sweep_copy / "sweep.json").write_text(json.dumps(state))
    before = _snapshot(sweep_copy)
    result = cli("sweep", "--resume", sweep_copy)
    assert result.exit_code == 2
    assert "holds 0 trials, the sweep recorded 1; it is not this sweep's storage" in result.stderr
    assert _snapshot(sweep_copy) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not a cbrun sweep folder (no sweep.json)"),
        (b"{not json", "not readable as a sweep's state"),
        (b"[1, 2]", "not a cbrun sweep's state (needs storage, study, trials_asked, trials)"),
        (b'{"storage": "x"}', "not a cbrun sweep's state"),
    ],
)
def test_a_folder_that_is_not_a_sweep_is_one_line(tmp_path, cli, content, message):
    if content is not None:
        (tmp_path / "sweep.json").write_bytes(content)
    result = cli("sweep", "--resume", tmp_path)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert message in line


def test_the_checks_as_functions(tmp_path):
    state = {"storage": "postgresql://h/db", "study": "s", "trials_asked": 2, "trials": [{}, {}]}
    (tmp_path / "sweep.json").write_text(json.dumps(state))
    assert recorded_state(tmp_path, "sweep.json") == state  # a server URL is not a file
    with pytest.raises(UsageError, match="holds 1 trials, the sweep recorded 2"):
        check_holds([object()], state, tmp_path)
    check_holds([object()] * 2, state, tmp_path)
    with pytest.raises(UsageError, match="holds 2 trials and the study 1: not rewritten"):
        never_less(tmp_path / "sweep.json", [{}])
    never_less(tmp_path / "sweep.json", [{}, {}, {}])
    never_less(tmp_path / "none.json", [])
