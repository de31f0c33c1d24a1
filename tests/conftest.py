"""Shared fixtures: small real configs, the CLI in-process, the full MNIST if present."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cbrun.backend import import_keras
from tests.forkserver import ForkServer

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_FORK_SERVER = None  # this worker's (tests/forkserver.py), forked at pytest_configure


def pytest_configure(config):
    """Import TensorFlow through cbrun's loader before any test module imports Keras itself,
    so this process's TensorFlow objects are frozen out of the collector as in a cbrun
    process. Not in pytest-xdist's controller: it runs no test, and its import (one cold
    `import tensorflow`, before the workers start theirs) was time every run waited for.
    Then this worker's fork server, before any test runs a TensorFlow op."""
    global _FORK_SERVER
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    import_keras()
    _FORK_SERVER = ForkServer()


ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
FULL_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def _process_env(extra: dict | None) -> dict:
    env = dict(os.environ, NO_COLOR="1")
    env.pop("CBRUN_FAULT", None)  # fault injection only where a test asks for it
    env.update(extra or {})
    return env


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """After each test (its fixtures torn down): collect what it left, then freeze what
    survives out of the collector, as cbrun freezes what TensorFlow's import made.

    TensorFlow keeps every function graph a process traced (tensorflow#61791, plain
    Keras too): about 3,700 objects a fit and evaluate, which no collection frees. A
    worker trains hundreds of runs, and the full collection that Keras's
    `clear_session` runs before each of them grew to 0.4 s: 35-41 CPU-s of GC in a
    suite run (timed with gc.callbacks in both workers), 3-6 s with this. A collection
    then scans only what the last test made. cbrun itself leaves the collector alone:
    it trains one run a process, or a sweep's trials one after another, each far
    longer than such a collection, and an API caller's objects are not its to freeze."""
    yield
    gc.collect()
    gc.freeze()


def pytest_unconfigure(config):
    if _FORK_SERVER is not None:
        _FORK_SERVER.close()


def start_cbrun(*args, cwd=ROOT, env: dict | None = None, fresh: bool = False):
    """`cbrun ARGS` started in its own process, stdout and stderr as text pipes.

    The process is forked from this worker's warm server (tests/forkserver.py), so it
    does not import TensorFlow again; `fresh=True` starts `python -m cbrun` cold, for
    what only a cold start shows (TensorFlow's import, its console, its environment).
    `env` adds variables to this process's environment (plus NO_COLOR=1).
    """
    if not fresh:
        return _FORK_SERVER.start(args, cwd, _process_env(env))
    return subprocess.Popen(
        [sys.executable, "-m", "cbrun", *map(str, args)],
        cwd=cwd,
        env=_process_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cbrun(*args, cwd=ROOT, env: dict | None = None, fresh: bool = False):
    """`cbrun ARGS` in its own process to its end (see `start_cbrun`); output as text."""
    with start_cbrun(*args, cwd=cwd, env=env, fresh=fresh) as process:
        out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


_LOADED = "tensorflow loaded:"


def in_a_fresh_interpreter(code: str, *args) -> subprocess.CompletedProcess:
    """Python `code` in an interpreter of its own, from the checkout, `args` as
    `sys.argv[1:]`: what its `sys.modules` holds is what the code loaded. Output as text."""
    argv = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def cbrun_loads_tensorflow(*args) -> tuple[subprocess.CompletedProcess, bool]:
    """`cbrun ARGS` in an interpreter of its own (see `in_a_fresh_interpreter`); the
    process, and whether the command loaded TensorFlow."""
    code = (
        "import sys\n"
        "from cbrun.cli.main import main\n"
        "sys.argv = ['cbrun', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "    code = 0\n"
        "except SystemExit as end:\n"
        "    code = end.code\n"
        f"print({_LOADED!r}, 'tensorflow' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    done = in_a_fresh_interpreter(code, *args)
    last = done.stdout.rstrip("\n").rpartition("\n")[2]
    assert last.startswith(_LOADED), done.stdout + done.stderr
    done.stdout = done.stdout[: -len(last) - 1]
    return done, last.endswith("True")


def installed_package(site: Path, name: str, group: str, entries: dict, source: str) -> None:
    """A package `name` in folder `site`, as pip would leave it: its module, and a dist-info
    exposing `entries` (`{entry name: "module:attr"}`) under the entry-point `group`."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")
    (site / f"{name}.py").write_text(source)


needs_full_mnist = pytest.mark.skipif(
    not FULL_MNIST.is_file(), reason=f"full MNIST not found at {FULL_MNIST}"
)

# A guide-style run small enough for a test: the bundled sample, 3 epochs x 3 steps.
TINY = """
name: tiny
seed: 1
data: {dataset: mnist, source: bundled, limit: {train: 640, test: 256}}
model: {name: linear}
compile:
  optimizer: {name: rmsprop, args: {learning_rate: 0.01}}
  loss: mean_squared_error
  metrics: [mae]
fit: {batch_size: 32, epochs: 3, steps_per_epoch: 3}
evaluate: {batch_size: 64, steps: 2}
"""


@pytest.fixture
def write_config(tmp_path):
    """Write YAML text (dedented) to a file in tmp_path and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def tiny_config(write_config):
    """TINY with whole top-level sections replaced by those in `extra`."""

    def make(extra: str = "") -> Path:
        config = yaml.safe_load(TINY)
        config.update(yaml.safe_load(textwrap.dedent(extra)) or {})
        return write_config(yaml.safe_dump(config, sort_keys=False))

    return make


@pytest.fixture
def cli():
    """Run `cbrun ...` in-process; returns click's Result (exit_code, stdout, stderr)."""
    from cbrun.cli.main import cli as group

    def run(*args):
        return CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture
def train(cli, tmp_path):
    """Train a config into tmp_path/runs; returns (result, run_dir or None)."""

    def run(config: Path, *extra):
        runs = tmp_path / "runs"
        result = cli("train", config, "--runs-dir", runs, *extra)
        made = sorted(runs.iterdir()) if runs.exists() else []
        return result, (made[-1] if made else None)

    return run
