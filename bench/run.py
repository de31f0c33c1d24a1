"""cbrun against plain Keras, interleaved A/B, medians and ratios → BENCHMARKS.md.

Run from the project root: `make bench` (or `python bench/run.py [--rounds N]`).
Needs the full MNIST at ../shared/data/mnist.npz; skips with a message without it.

P1 overhead  cbrun (rich logs on) vs the same MLP as a plain script, same
             steps_per_execution (1), median epoch time ratio; off a terminal
             and in a pseudo-terminal. Target <= 1.03.
P2 defaults  cbrun's default config (steps_per_execution auto) vs plain Keras's
             defaults (1), on a config without batch-level callbacks. Target >= 2x.
P3 start-up  wall time of `cbrun --help`, `validate`, a config error, a Keras-level
             config error, `list-callbacks` and `check-plugin`, beside
             `python -c "import tensorflow"`. Target <= 0.5 s.
P4 memory    peak resident memory of a full-MNIST run, cbrun / plain. Target <= 1.10.

The first epoch of every run (graph tracing) is left out of the medians; each
ratio is the median over rounds of that round's ratio (paired A/B); the arms'
order rotates from round to round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pty
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
BIN = Path(sys.executable).parent
CBRUN = str(BIN / "cbrun")
EPOCHS = 6


def _run(argv, *, tty=False) -> tuple[float, int]:
    """Run a command; return (wall seconds, peak RSS in MiB). Output is discarded."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    if tty:
        primary, secondary = pty.openpty()
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary
        )
        os.close(secondary)
        while True:  # drain the terminal so the child never blocks on it
            try:
                if not os.read(primary, 65536):
                    break
            except OSError:
                break
        os.close(primary)
    else:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # 2: a config error (P3 measures it); 1: `check-plugin` with findings (P3 too).
    if proc.returncode not in (0, 1, 2):
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}")
    return time.perf_counter() - start, usage.ru_maxrss // 1024


def plain(spe: int) -> tuple[list[float], int]:
    with tempfile.NamedTemporaryFile(mode="r", suffix=".json") as out:
        argv = [
            "sh",
            "-c",
            f'"{sys.executable}" bench/plain_keras.py "{MNIST}" {EPOCHS} {spe} > "{out.name}"',
        ]
        _, rss = _run(argv)
        return json.loads(Path(out.name).read_text())["epochs"], rss


def cbrun(spe, *, tty=False) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory() as runs:
        argv = [
            CBRUN,
            "train",
            "bench/mlp_full.yaml",
            "--runs-dir",
            runs,
            "--set",
            f"data.path={MNIST}",
            "--set",
            f"fit.epochs={EPOCHS}",
            "--set",
            f"fit.steps_per_execution={spe}",
        ]
        _, rss = _run(argv, tty=tty)
        summary = json.loads(next(Path(runs).glob("*/summary.json")).read_text())
        return summary["seconds"]["epochs"], rss


def median_epoch(runs: list[list[float]]) -> float:
    return statistics.median(s for epochs in runs for s in epochs[1:])


def round_ratios(candidate: list[list[float]], baseline: list[list[float]]) -> list[float]:
    """Each round's (candidate / baseline) ratio of median epoch times.

    Each round runs both back to back, so a slow spell of this shared machine
    moves both sides of a ratio together instead of one side of the medians.
    """
    return [
        statistics.median(c[1:]) / statistics.median(b[1:])
        for c, b in zip(candidate, baseline, strict=True)
    ]


def paired_ratio(candidate: list[list[float]], baseline: list[list[float]]) -> float:
    """The median over rounds of `round_ratios`."""
    return statistics.median(round_ratios(candidate, baseline))


def startup(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        bad = Path(folder) / "bad.yaml"
        bad.write_text("model: {name: linear}\ncompile: {loss: mse}\nfit: {epochs: 0}\n")
        typo = Path(folder) / "typo.yaml"
        typo.write_text(
            "model: {name: linear}\ncompile: {loss: mean_squared_eror}\nfit: {epochs: 1}\n"
        )
        commands = {
            "cbrun --help": [CBRUN, "--help"],
            "cbrun validate configs/early_stop.yaml": [
                CBRUN,
                "validate",
                "configs/early_stop.yaml",
            ],
            "cbrun train <config with an error>": [CBRUN, "train", str(bad)],
            "cbrun train <a Keras-level mistake: loss typo>": [CBRUN, "train", str(typo)],
            "cbrun list-callbacks": [CBRUN, "list-callbacks"],
            "cbrun check-plugin <the guide's callbacks>": [
                CBRUN,
                "check-plugin",
                "tests/legacy/guide_callbacks.py",
            ],
            'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
        }
        times = {name: [] for name in commands}
        for _ in range(rounds):
            for name, argv in commands.items():
                times[name].append(_run(argv)[0])
        return {name: statistics.median(t) for name, t in times.items()}


def versions() -> str:
    from importlib import metadata

    return ", ".join(f"{p} {metadata.version(p)}" for p in ("tensorflow", "keras", "rich"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    if not MNIST.is_file():
        print(f"skipped: the full MNIST is not at {MNIST}")
        return 0
    rounds = args.rounds
    a1, b1, c1, b2 = [], [], [], []
    rss_plain, rss_cbrun = [], []

    def plain_spe_1():
        epochs, rss = plain(1)
        a1.append(epochs)
        rss_plain.append(rss)

    def cbrun_spe_1():
        epochs, rss = cbrun(1)
        b1.append(epochs)
        rss_cbrun.append(rss)

    arms = [
        plain_spe_1,
        cbrun_spe_1,
        lambda: c1.append(cbrun(1, tty=True)[0]),
        lambda: b2.append(cbrun("auto")[0]),
    ]
    for round_ in range(rounds):
        print(f"round {round_ + 1}/{rounds} ...", flush=True)
        # Each round starts at another arm, so that no arm always runs first or last
        # in a round (a machine slowing down within a round would favour the first).
        start = round_ % len(arms)
        for arm in arms[start:] + arms[:start]:
            arm()
    p1_pipe = paired_ratio(b1, a1)
    p1_tty = paired_ratio(c1, a1)
    # Plain Keras's default steps_per_execution is 1: the P1 baseline is also P2's.
    p2 = 1 / paired_ratio(b2, a1)
    p3 = startup(5)
    p4 = statistics.median(rss_cbrun) / statistics.median(rss_plain)

    lines = [
        "# Benchmarks",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {versions()}. Date: {time.strftime('%Y-%m-%d %H:%M')}.",
        f"Command: `make bench` (= `python bench/run.py --rounds {rounds}`), full MNIST, "
        f"MLP 784-64-10, batch 64, {EPOCHS} epochs per run, first epoch left out, "
        f"{rounds} interleaved rounds (the arms' order rotating); ratios are medians of "
        "per-round ratios.",
        "",
        "| figure | plain Keras | cbrun | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| P1 epoch time, no terminal (spe 1) | {median_epoch(a1):.3f} s | "
        f"{median_epoch(b1):.3f} s | {p1_pipe:.3f} | <= 1.03 | {_ok(p1_pipe <= 1.03)} |",
        f"| P1 epoch time, pseudo-terminal (spe 1) | {median_epoch(a1):.3f} s | "
        f"{median_epoch(c1):.3f} s | {p1_tty:.3f} | <= 1.03 | {_ok(p1_tty <= 1.03)} |",
        f"| P2 defaults: plain spe 1 / cbrun auto | {median_epoch(a1):.3f} s | "
        f"{median_epoch(b2):.3f} s | {p2:.2f}x faster | >= 2x | {_ok(p2 >= 2)} |",
        f"| P4 peak RSS | {statistics.median(rss_plain):.0f} MiB | "
        f"{statistics.median(rss_cbrun):.0f} MiB | {p4:.3f} | <= 1.10 | {_ok(p4 <= 1.10)} |",
        "",
        "P1 per round (cbrun / plain, in the order the rounds ran): no terminal "
        + ", ".join(f"{r:.3f}" for r in round_ratios(b1, a1))
        + "; pseudo-terminal "
        + ", ".join(f"{r:.3f}" for r in round_ratios(c1, a1))
        + ".",
        "",
        "| P3 start-up (median of 5, wall) | seconds | target | met |",
        "| --- | --- | --- | --- |",
    ]
    for name, seconds in p3.items():
        target = "(reference)" if "import tensorflow" in name else "<= 0.5"
        met = "" if "import tensorflow" in name else _ok(seconds <= 0.5)
        lines.append(f"| `{name}` | {seconds:.3f} | {target} | {met} |")
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "BENCHMARKS.md").write_text(text)
    return 0


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


if __name__ == "__main__":
    raise SystemExit(main())
