"""Every path a run writes is probed before the data is read (cbrun/run/outputs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cbrun.config.loading import load_config
from cbrun.errors import UsageError
from cbrun.run.outputs import probe_outputs


@pytest.fixture
def spec(tiny_config):
    return load_config(tiny_config())


def test_each_written_path_is_named_by_what_set_it(spec, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    cases = {
        "--runs-dir": dict(runs_dir=blocker / "runs"),
        "--run-dir": dict(run_dir=blocker / "run"),
        "--resume": dict(resume=blocker / "run"),
    }
    for option, given in cases.items():
        with pytest.raises(UsageError, match=f"^{option}: cannot write"):
            probe_outputs(spec, **given)
    spec.output.runs_dir = str(blocker / "runs")
    with pytest.raises(UsageError, match="^output.runs_dir: cannot write"):
        probe_outputs(spec)


def test_the_image_cache_and_a_local_mlflow_store_are_probed(spec, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    images = spec.data.model_copy(
        update={"dataset": "image_folder", "cache": str(blocker / "cache")}
    )
    with pytest.raises(UsageError, match="^data.cache: cannot write"):
        probe_outputs(spec.model_copy(update={"data": images}), runs_dir=tmp_path)
    from cbrun.config.spec import MlflowSpec

    for uri in (
        f"sqlite:///{blocker / 'm.db'}",
        f"file://{blocker / 'mlruns'}",
        str(blocker / "x"),
    ):
        tracked = spec.model_copy(deep=True)
        tracked.tracking.mlflow = MlflowSpec(uri=uri)
        with pytest.raises(UsageError, match="^tracking.mlflow.uri: cannot write"):
            probe_outputs(tracked, runs_dir=tmp_path)
    tracked.tracking.mlflow = MlflowSpec(uri="http://127.0.0.1:5000")  # a server: not a path
    probe_outputs(tracked, runs_dir=tmp_path)
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["blocker", "config.yaml"]


def test_an_absolute_callback_path_is_probed_and_a_relative_one_lies_in_the_run(spec, tmp_path):
    from cbrun.config.spec import CallbackSpec

    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    spec.callbacks = [
        CallbackSpec(name="CSVLogger", args={"filename": "epochs.csv"}),
        CallbackSpec(name="ModelCheckpoint", args={"filepath": str(blocker / "best.keras")}),
    ]
    with pytest.raises(UsageError) as caught:
        probe_outputs(spec, runs_dir=tmp_path)
    assert str(caught.value) == (
        f"callbacks[1].args.filepath: cannot write {blocker / 'best.keras'}: {blocker} is a "
        "file, not a folder"
    )
    spec.callbacks = [CallbackSpec(name="TensorBoard", args={"log_dir": "/sys/cbrun-logs"})]
    with pytest.raises(UsageError, match=r"^callbacks\[0\].args.log_dir: cannot write /sys/"):
        probe_outputs(spec, runs_dir=tmp_path)
