"""Independent `cbrun sweep` processes on one study: SQLite, and a real PostgreSQL server
(where its Debian binaries are installed), and a storage that cannot be opened."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import start_cbrun
from tests.sweep.test_study import _config
from tests.sweep.test_workers import _assert_each_trial_ran_once, _study, _wait_all


def _two_sweeps(tmp_path, config, storage: str, study: str) -> list[str]:
    """Two `cbrun sweep` processes on one study, started together, each into its own
    runs-N folder; the trial folders they made."""
    processes = [
        start_cbrun(
            "sweep", config, "--storage", storage, "--study", study, "--jobs", 1,
            "--runs-dir", tmp_path / f"runs-{index}",
        )
        for index in range(2)
    ]  # fmt: skip
    _wait_all(processes)
    return glob.glob(str(tmp_path / "runs-*" / "*" / "trials" / "trial-*"))


def test_two_processes_on_one_storage_finish_exactly_the_asked_trials(tmp_path):
    config = _config(tmp_path, trials=5)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    run_dirs = _two_sweeps(tmp_path, config, storage, "shared")
    trials = _study(storage, "shared").get_trials()
    _assert_each_trial_ran_once(trials, run_dirs, 5)
    values = [json.dumps(t.user_attrs["values"]) for t in trials if t.state.name == "COMPLETE"]
    assert len(set(values)) == 5  # the workers did not draw the same values
    for index in range(2):  # each process wrote its folder's view of the whole study
        (sweep,) = (tmp_path / f"runs-{index}").iterdir()
        state = json.loads((sweep / "sweep.json").read_text())
        assert state["study"] == "shared" and len(state["trials"]) == 5
        assert (sweep / "best.yaml").is_file()


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@pytest.fixture
def postgres():
    """A PostgreSQL server from the Debian binaries, in a temporary folder on 127.0.0.1;
    its SQLAlchemy URL. Skipped, with the reason, where they or the driver are missing."""
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL binaries (Debian package postgresql) are not installed")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is not installed")
    folder = Path(tempfile.mkdtemp(prefix="cbrun-pg-"))
    as_user = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data, pg_ctl = folder / "data", [*as_user, str(binaries / "pg_ctl"), "-D", str(folder / "data")]
    try:
        subprocess.run(
            [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "cbrun", "--auth=trust"],
            check=True, capture_output=True,
        )  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [*pg_ctl, "-l", str(folder / "server.log"), "-w", "-o", options, "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql+psycopg2://cbrun@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_processes_share_a_study_on_a_real_postgresql_server(tmp_path, postgres):
    config = _config(tmp_path, trials=4)
    run_dirs = _two_sweeps(tmp_path, config, postgres, "pg")
    _assert_each_trial_ran_once(_study(postgres, "pg").get_trials(), run_dirs, 4)
    (sweep,) = (tmp_path / "runs-0").iterdir()
    state = json.loads((sweep / "sweep.json").read_text())
    assert state["storage"] == postgres and len(state["trials"]) == 4


def test_a_storage_that_cannot_be_opened_is_one_line_and_leaves_nothing(tmp_path, cli):
    url = "postgresql+nosuchdriver://cbrun@127.0.0.1:1/x"
    result = cli("sweep", _config(tmp_path), "--storage", url, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: --storage {url}: ")
    assert not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize(
    "options,message",
    [
        (["--storage", "garbage"], "--storage garbage: Could not parse SQLAlchemy URL"),
        (["--storage", ""], "--storage is empty: leave it out for SQLite in the sweep folder"),
        (["--storage", "sqlite://"], "--storage sqlite://: an in-memory database, which"),
        (["--storage", "sqlite:///:memory:"], "--storage sqlite:///:memory:: an in-memory"),
        (["--storage", "redis://localhost"], "--storage redis://localhost: Can't load plugin"),
        (
            ["--storage", "sqlite:////no/such/folder/study.db"],
            "--storage sqlite:////no/such/folder/study.db: unable to open database file",
        ),
        (["--storage", "sqlite:///{tmp}/s.db?bad=1"], "Query string argument(s) 'bad' are not"),
        (["--study", " "], "--study is empty: leave it out to use the config's name"),
    ],
    ids=[
        "garbage",
        "empty",
        "in memory",
        "in memory by name",
        "no such dialect",
        "unreachable folder",
        "an ignored argument",
        "empty study",
    ],  # fmt: skip
)
def test_a_storage_no_sweep_can_use_is_one_line(options, message, tmp_path, cli):
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    result = cli("sweep", _config(tmp_path), *options, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and message in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_shared_study_refuses_a_config_that_searches_something_else(tmp_path, cli):
    from cbrun.config.loading import load_config
    from cbrun.sweep.storage import open_study

    config = _config(tmp_path)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    open_study(url, "shared", load_config(config))  # as the first process would
    other = ["--set", "sweep.objective.monitor=val_loss", "--set", "sweep.objective.mode=min"]
    result = cli("sweep", config, *other, "--storage", url, "--study", "shared",
                 "--runs-dir", tmp_path / "runs")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: --storage {url} --study shared: that study searches another objective than "
        "this config's sweep: section; give another --study"
    ]
    assert not any((tmp_path / "runs").iterdir())
