"""No line of TensorFlow's start-up chatter on any command, on a real terminal.

Each command starts cold (`python -m cbrun`, TensorFlow imported afresh: a forked
process from the warm server would have it loaded already and prove nothing), with
stdout and stderr each on a pseudo-terminal of its own, as in tmux. The same commands
on pipes are checked by `make smoke` (scripts/smoke.sh fails on any such line in its
stderr) and, for `train`, by tests/cli/test_main.py.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import textwrap

import pytest

import cbrun
from tests.conftest import ROOT, TINY

# What TensorFlow's C++ side and absl write while loading (tests/../shared/notes/
# tensorflow-console.md), and the glog-style prefix of any other C++ log line.
CHATTER = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cuda drivers|TF-TRT|"
    r"This TensorFlow binary is optimized|Unable to register cu|"
    r"^[IWEF]\d{4} [\d:. ]+\d+ \S+\.cc:\d+\]",
    re.MULTILINE,
)


def on_terminals(argv, cwd, timeout=300) -> tuple[int, str, str]:
    """Run argv with stdout and stderr on two pseudo-terminals; (code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
    env.pop("NO_COLOR", None)
    masters, slaves = zip(*(pty.openpty() for _ in range(2)), strict=True)
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slaves[0], stderr=slaves[1]
    )
    for fd in slaves:
        os.close(fd)
    output = {fd: b"" for fd in masters}
    open_fds = list(masters)
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [], timeout)
        if not ready:
            process.kill()
            break
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                chunk = b""
            if chunk:
                output[fd] += chunk
            else:
                open_fds.remove(fd)
    code = process.wait(timeout=timeout)
    for fd in masters:
        os.close(fd)
    out, err = (output[fd].decode("utf-8", "replace") for fd in masters)
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny finished run, trained in-process (TensorFlow is loaded here anyway)."""
    folder = tmp_path_factory.mktemp("console")
    config = folder / "tiny.yaml"
    config.write_text(TINY)
    sweep = folder / "sweep.yaml"
    sweep.write_text(
        TINY
        + textwrap.dedent(
            """
            sweep:
              objective: {monitor: loss, mode: min}
              sampler: random
              trials: 2
              space:
                compile.optimizer.args.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}
            """
        )
    )
    run = cbrun.train(config, runs_dir=folder / "runs", quiet=True)
    return folder, config, sweep, run.run_dir


API = """
import sys, cbrun
run = cbrun.train(sys.argv[1], runs_dir=sys.argv[2])
cbrun.evaluate(run.run_dir, quiet=False)
cbrun.predict(run.run_dir, quiet=False)
"""

# One cold start per command. `--json` twins would load TensorFlow the same way; their
# stderr on pipes is checked by make smoke.
COMMANDS = {
    "train": lambda f, c, s, r: ["train", c, "--runs-dir", f / "train", "--set", "fit.epochs=1"],
    "evaluate": lambda f, c, s, r: ["evaluate", r],
    "predict": lambda f, c, s, r: ["predict", r],
    "trace": lambda f, c, s, r: ["trace", c, "--runs-dir", f / "trace"],
    "sweep (2 workers)": lambda f, c, s, r: ["sweep", s, "--runs-dir", f / "sweep", "--jobs", 2],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_on_a_terminal_shows_no_tensorflow_chatter(command, trained):
    folder, config, sweep, run = trained
    args = [str(arg) for arg in COMMANDS[command](folder, config, sweep, run)]
    code, out, err = on_terminals([sys.executable, "-m", "cbrun", *args], cwd=ROOT)
    assert code == 0, out + err
    assert not CHATTER.search(err), err
    assert not CHATTER.search(out), out
    assert out.strip(), "the command printed nothing"


def test_the_python_api_shows_no_tensorflow_chatter(trained):
    folder, config, _, _ = trained
    argv = [sys.executable, "-c", API, str(config), str(folder / "api")]
    code, out, err = on_terminals(argv, cwd=ROOT)
    assert code == 0, out + err
    assert not CHATTER.search(err), err
    assert "tiny: completed" in out or "tiny: stopped_early" in out, out


def test_verbose_lets_tensorflow_speak(trained):
    """The opposite case, so that the pattern above is known to match the real lines."""
    _, _, _, run = trained
    code, out, err = on_terminals(
        [sys.executable, "-m", "cbrun", "evaluate", str(run), "--verbose"], cwd=ROOT
    )
    assert code == 0, out + err
    assert CHATTER.search(err), err
