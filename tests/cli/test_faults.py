"""The fault matrix: every path cbrun reads or writes, crossed with every way it can be wrong.

`TARGETS` lists each path-valued option or config field and each artifact cbrun reads
back, with the command that meets it and the fault kinds that apply to it; the cases
are generated from it. Each case asserts the contract (README "What cbrun guarantees"):
the command ends with exit 0 (it recovered: a damaged cache decoded again, a damaged
newest checkpoint skipped) or with `Error:` lines and exit 1 or 2, never a traceback
and never the line of an unexpected exception; a refused input (exit 2) writes nothing.
A new path joins the matrix by being listed here.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import TINY

# Under a read-only mount: root's chmod-proof "cannot write" (the README's note).
UNWRITABLE = Path("/sys/cbrun-fault-matrix")
KINDS = (
    "missing",  # the path is not there
    "wrong_kind",  # a file where a folder is wanted, or a folder where a file is
    "unwritable",  # a path under a read-only filesystem
    "loop",  # a symbolic link to itself
    "empty",  # a file of no bytes
    "truncated",  # the first half of the file
    "wrong_shape",  # valid JSON, zip, npz or CSV of another shape
)


def _fault(path: Path, kind: str, sample: bytes | None = None) -> None:
    """Make `path` faulty in the way `kind` says (`sample`: a valid file of its shape)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        existed_as = "file"
    elif path.is_dir():
        shutil.rmtree(path)
        existed_as = "dir"
    else:
        existed_as = None
    if kind == "missing":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "wrong_kind":
        if existed_as in ("dir", None):  # an output folder to be: a file stands there
            path.write_text("a file where a folder belongs\n")
        else:
            path.mkdir()
    elif kind == "loop":
        os.symlink(path.name, path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(sample[: len(sample) // 2])
    elif kind == "wrong_shape":
        path.write_bytes(_wrong_shape(path))
    else:
        raise AssertionError(kind)


def _wrong_shape(path: Path) -> bytes:
    """A well-formed file of the path's format that holds something else."""
    if path.suffix in (".json",):
        return b'["a", "list", "where", "an", "object", "belongs"]\n'
    if path.suffix in (".yaml", ".yml"):
        return b"- a list\n- where a mapping belongs\n"
    if path.suffix == ".csv":
        return b"when,what\nyesterday,nothing\n"
    if path.suffix == ".npz":
        buffer = io.BytesIO()
        np.savez(buffer, unrelated=np.arange(3))
        return buffer.getvalue()
    buffer = io.BytesIO()  # .keras and other zips: a zip of something else
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    return buffer.getvalue()


@dataclass(frozen=True)
class Target:
    """One path: where it is in a prepared folder, the kinds that apply, and the command.

    `path(work)` is the path to make faulty; `command(work)` the cbrun arguments that meet
    it; `writes`: the folder that must be left as it was when the command refuses (exit 2).
    """

    name: str
    kinds: tuple[str, ...]
    path: Callable[[Path], Path]
    command: Callable[[Path], list]
    writes: Callable[[Path], Path] | None = None


READ_KINDS = ("missing", "wrong_kind", "loop", "empty", "truncated", "wrong_shape")
FOLDER_KINDS = ("missing", "wrong_kind", "loop")
OUTPUT_KINDS = ("wrong_kind", "unwritable", "loop")


def _run(work: Path) -> Path:
    return work / "runs" / "finished"


def _config(work: Path) -> Path:
    return work / "config.yaml"


def _checkpoint_in(work: Path) -> str:
    """`--set callbacks=...`: a ModelCheckpoint writing to an absolute path under out/."""
    target = work / "out" / "best.keras"
    return f"callbacks=[{{name: ModelCheckpoint, args: {{filepath: '{target}'}}}}]"


def _newest_checkpoints(work: Path) -> list[Path]:
    return sorted((_run(work) / "backup").glob("epoch-*"))


TARGETS = [
    # Inputs a config names (read by validate, before TensorFlow).
    Target("CONFIG", READ_KINDS, _config, lambda w: ["validate", _config(w)]),
    Target(
        "extends",
        READ_KINDS,
        lambda w: w / "base.yaml",
        lambda w: ["validate", w / "child.yaml"],
    ),
    Target(
        "data.path (arrays)",
        READ_KINDS,
        lambda w: w / "arrays.npz",
        lambda w: [
            "validate",
            _config(w),
            "--set",
            "data.dataset=arrays",
            "--set",
            f"data.path={w / 'arrays.npz'}",
            "--set",
            "model.name=mlp",
            "--set",
            "compile.loss=sparse_categorical_crossentropy",
            "--set",
            "compile.metrics=[accuracy]",
        ],
    ),  # fmt: skip
    Target(
        "data.path (image_folder)",
        FOLDER_KINDS,
        lambda w: w / "images",
        lambda w: ["validate", w / "images.yaml"],
    ),
    Target(
        "model.init_from",
        READ_KINDS,
        lambda w: _run(w) / "model.keras",
        lambda w: ["validate", _config(w), "--set", f"model.init_from={_run(w)}"],
    ),
    # Outputs: every path a command writes, probed before any work.
    Target(
        "--runs-dir",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: ["train", _config(w), "--runs-dir", w / "out" / "runs"],
        writes=lambda w: w / "out",
    ),
    Target(
        "--run-dir",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: ["train", _config(w), "--run-dir", w / "out" / "run"],
        writes=lambda w: w / "out",
    ),
    Target(
        "data.cache",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: [
            "train",
            w / "images.yaml",
            "--runs-dir",
            w / "runs2",
            "--set",
            f"data.cache={w / 'out' / 'cache'}",
        ],
        writes=lambda w: w / "runs2",
    ),  # fmt: skip
    Target(
        "tracking.mlflow.uri (SQLite)",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: [
            "train",
            _config(w),
            "--runs-dir",
            w / "runs2",
            "--set",
            f"tracking.mlflow.uri=sqlite:///{w / 'out' / 'mlflow.db'}",
        ],
        writes=lambda w: w / "runs2",
    ),  # fmt: skip
    Target(
        "sweep --storage (SQLite)",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: [
            "sweep",
            w / "sweep.yaml",
            "--runs-dir",
            w / "runs2",
            "--storage",
            f"sqlite:///{w / 'out' / 'study.db'}",
        ],
        writes=lambda w: w / "runs2",
    ),  # fmt: skip
    Target(
        "callbacks[].args.filepath",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: ["train", _config(w), "--runs-dir", w / "runs2", "--set", _checkpoint_in(w)],
        writes=lambda w: w / "runs2",
    ),
    Target(
        "export --output",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: ["export", _run(w), "--format", "saved_model", "-o", w / "out" / "export"],
        writes=lambda w: _run(w),
    ),
    Target(
        "init PATH",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: ["init", w / "out" / "new.yaml"],
        writes=lambda w: w,
    ),
    Target(
        "plot --output",
        OUTPUT_KINDS,
        lambda w: w / "out",
        lambda w: ["plot", _run(w), "-o", w / "out" / "curves.png"],
        writes=lambda w: _run(w),
    ),
    # Artifacts cbrun reads back from a run or sweep folder.
    Target(
        "summary.json",
        READ_KINDS,
        lambda w: _run(w) / "summary.json",
        lambda w: ["evaluate", _run(w)],
    ),
    Target(
        "config.yaml (run)",
        READ_KINDS,
        lambda w: _run(w) / "config.yaml",
        lambda w: ["predict", _run(w)],
    ),
    Target(
        "model.keras",
        READ_KINDS,
        lambda w: _run(w) / "model.keras",
        lambda w: ["evaluate", _run(w)],
    ),
    Target(
        "history.csv",
        READ_KINDS,
        lambda w: _run(w) / "history.csv",
        lambda w: ["runs", w / "runs", "--json"],
    ),
    Target(
        "tracking.json",
        READ_KINDS,
        lambda w: _run(w) / "tracking.json",
        lambda w: ["track", _run(w), "--track", "tensorboard"],
    ),
    Target(
        "checkpoint (backup/)",
        FOLDER_KINDS,
        lambda w: _run(w) / "backup",
        lambda w: ["train", "--resume", _run(w), "--set", "fit.epochs=3"],
    ),
    Target(
        "checkpoint (newest .npz)",
        READ_KINDS,
        lambda w: _newest_checkpoints(w)[-1],
        lambda w: ["train", "--resume", _run(w), "--set", "fit.epochs=3"],
    ),
    Target(
        "sweep.json",
        READ_KINDS,
        lambda w: w / "sweep" / "sweep.json",
        lambda w: ["runs", w / "sweep"],
    ),
    Target(
        "image cache",
        ("empty", "truncated", "wrong_shape", "loop"),
        lambda w: next((w / "cache").glob("images-*.npz")),
        lambda w: ["train", w / "images.yaml", "--runs-dir", w / "runs2"],
    ),
]
CASES = [(target, kind) for target in TARGETS for kind in target.kinds]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A folder holding every path the matrix makes faulty, whole: a config, a base it
    extends, arrays, an image folder and its decoded cache, a sweep, and a finished run
    with two checkpoints, a model and a TensorBoard tracking.json. Trained once."""
    from PIL import Image

    from cbrun import api

    work = tmp_path_factory.mktemp("faults")
    config = yaml.safe_load(TINY)
    config["fit"]["epochs"] = 2
    _config(work).write_text(yaml.safe_dump(config))
    (work / "base.yaml").write_text(yaml.safe_dump(config))
    (work / "child.yaml").write_text("extends: base.yaml\nseed: 2\n")
    rng = np.random.default_rng(0)
    np.savez(
        work / "arrays.npz",
        x_train=rng.random((40, 6), dtype=np.float32),
        y_train=rng.integers(0, 3, 40),
        x_test=rng.random((10, 6), dtype=np.float32),
        y_test=rng.integers(0, 3, 10),
    )
    for label in ("a", "b"):
        (work / "images" / label).mkdir(parents=True)
        for index in range(4):
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(work / "images" / label / f"{index}.png")
    images = {
        "data": {"dataset": "image_folder", "path": str(work / "images"), "image_size": [8, 8],
                 "cache": str(work / "cache")},
        "model": {"name": "cnn"},
        "compile": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
        "fit": {"epochs": 1, "batch_size": 4},
    }  # fmt: skip
    (work / "images.yaml").write_text(yaml.safe_dump(images))
    sweep = dict(config, sweep={"objective": {"monitor": "loss", "mode": "min"},
                                "trials": 1, "space": {"seed": {"choice": [1, 2]}}})  # fmt: skip
    (work / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    (work / "sweep").mkdir()
    trial = {"number": 0, "status": "complete", "params": {"seed": 1}, "objective": 0.5}
    state = {"objective": {"monitor": "loss", "mode": "min"}, "trials": [trial]}
    (work / "sweep" / "sweep.json").write_text(json.dumps(state))
    api.train(_config(work), run_dir=_run(work), quiet=True, track=["tensorboard"])
    from cbrun.config.loading import load_config
    from cbrun.data.images import load_image_folder

    load_image_folder(load_config(work / "images.yaml").data, 0, lambda line: None)  # the cache
    # A finished run keeps its newest checkpoint (to continue with more epochs).
    assert len(_newest_checkpoints(work)) == 2 and (work / "cache").is_dir()
    return work


def _tree(folder: Path) -> list:
    if not folder.is_dir():
        return [folder.exists()]
    return sorted(
        (str(p.relative_to(folder)), p.is_file() and p.stat().st_size)
        for p in folder.rglob("*")
        if not p.name.startswith(".cbrun-probe-")
    )


@pytest.mark.parametrize(("target", "kind"), CASES, ids=[f"{t.name}-{k}" for t, k in CASES])
def test_the_contract_holds(target, kind, prepared, tmp_path, monkeypatch):
    from cbrun.cli.main import cli

    work = tmp_path / "work"
    shutil.copytree(prepared, work, symlinks=True)
    # The copies name their own folder: the prepared paths are rewritten to the copy's.
    for text_file in [*work.glob("*.yaml"), *work.rglob("config.yaml")]:
        text_file.write_text(text_file.read_text().replace(str(prepared), str(work)))
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    path = target.path(work)
    if kind == "unwritable":
        args = [str(a).replace(str(path), str(UNWRITABLE)) for a in target.command(work)]
    else:
        sample = path.read_bytes() if path.is_file() else None
        _fault(path, kind, sample)
        args = [str(a) for a in target.command(work)]
    watched = target.writes(work) if target.writes else None
    before = _tree(watched) if watched else None

    result = CliRunner().invoke(cli, args)

    said = f"{target.name} / {kind}: cbrun {' '.join(args)}\n{result.output}"
    assert result.exit_code in (0, 1, 2), said
    assert "Traceback" not in result.output, said
    assert "unexpected" not in result.stderr, said
    if result.exit_code:
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert errors, said
    if result.exit_code == 2 and watched is not None:
        assert _tree(watched) == before, said
    assert not (tmp_path / "user-cache" / "cbrun" / "crashes").exists(), said


def test_the_matrix_covers_every_kind_and_its_size_is_known():
    """Its size, for the notes: targets x the kinds that apply to each."""
    assert {kind for _, kind in CASES} == set(KINDS)
    assert len(TARGETS) >= 20 and len(CASES) >= 90
