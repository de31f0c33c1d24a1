"""The shipped configs are package data: `cbrun init --example` from a built wheel,
installed outside the checkout, in a process that cannot see the checkout's cbrun."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_init_example_works_from_a_wheel_outside_the_checkout(tmp_path):
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", str(ROOT), "-w", tmp_path / "dist"], check=True)
    (wheel,) = (tmp_path / "dist").glob("cbrun-*.whl")
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    work = tmp_path / "work"
    work.mkdir()
    script = (
        "import sys, cbrun\n"
        f"assert cbrun.__file__.startswith({str(site)!r}), cbrun.__file__\n"
        "from cbrun.cli.main import cli\n"
        "cli(['init', 'first.yaml', '--example', 'early_stop'])\n"
    )
    # The wheel's cbrun first on the path; its dependencies from this environment.
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote first.yaml, cbrun.schema.json")
    assert (work / "first.yaml").read_text() == (ROOT / "configs" / "early_stop.yaml").read_text()
    assert (work / "cbrun.schema.json").is_file()
