"""The rules of `--resume`: which run, which config, from which epoch.

A run resumes in its own folder with its own saved config; a config given
with `--resume` may differ from it only by a larger `fit.epochs`. A finished
run has nothing to resume.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from cbrun.config.loading import load_config
from cbrun.config.spec import RunSpec
from cbrun.errors import RunDirError
from cbrun.output.rundir import CONFIG, RunDir
from cbrun.output.summary import RunStatus
from cbrun.run import checkpoints


def absolute_paths(spec: RunSpec) -> RunSpec:
    """The run's config.yaml must work from any folder: make data.path and
    model.init_from absolute."""
    if spec.data.path and not Path(spec.data.path).is_absolute():
        data = spec.data.model_copy(update={"path": str(Path(spec.data.path).resolve())})
        spec = spec.model_copy(update={"data": data})
    if spec.model.init_from and not Path(spec.model.init_from).is_absolute():
        model = spec.model.model_copy(
            update={"init_from": str(Path(spec.model.init_from).resolve())}
        )
        spec = spec.model_copy(update={"model": model})
    return spec


def without_sources(spec: RunSpec) -> RunSpec:
    """`spec` building its model without reading where its weights came from: a resumed
    run's checkpoint holds every weight, and the `model.init_from` folder or the backbone's
    `model.weights` (a file, a run folder, ImageNet's download) may be gone since."""
    update = {"init_from": None, "weights": None}
    return spec.model_copy(update={"model": spec.model.model_copy(update=update)})


def differences(old, new, path=()) -> list[str]:
    """The dotted keys where two plain-data trees differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += differences(old.get(key), new.get(key), path + (key,))
        return found
    return [".".join(map(str, path))] if old != new else []


def open_unfinished(path: Path, epochs: int | None = None) -> RunDir:
    """The run folder to resume; refuses a missing or foreign one, and a finished one
    unless it completed and `epochs` asks for more (it continues from its last
    checkpoint, which a finished run keeps for this)."""
    run = RunDir.open(path, finished=False)
    previous = run.summary()
    if not previous.status.finished:
        return run
    done = previous.epochs_run
    if previous.status == RunStatus.STOPPED_EARLY:
        raise RunDirError(
            f"{run.path} was stopped early by a callback after {done} epochs: an "
            "uninterrupted run of any length stops there too, so there is nothing to continue; "
            "start a new run to train on"
        )
    if epochs is None or epochs <= done:
        raise RunDirError(
            f"{run.path} already finished ({previous.status.value} after {done} epochs); "
            f"to train on, continue it with --set fit.epochs=N, N > {done}"
        )
    if not checkpoints.available(run.path):
        raise RunDirError(
            f"{run.path} finished before cbrun kept a finished run's last checkpoint: it "
            "cannot be continued exactly; start a new run"
        )
    return run


def held_folder(source: RunDir | None, run_dir, runs_dir, spec: RunSpec) -> RunDir:
    """The folder a run writes, locked for this process: the resumed one (checked again
    once held: another process may have finished it meanwhile), the exact `run_dir`,
    or a new one in `runs_dir`. Two processes never write one folder."""
    if source is not None:
        source.lock()
        try:
            open_unfinished(source.path, spec.fit.epochs)
        except BaseException:
            source.unlock()
            raise
        return source
    run = RunDir.exact(run_dir) if run_dir else RunDir.create(Path(runs_dir), spec.name)
    return run.lock()


def resume_spec(run: RunDir, spec: RunSpec | None) -> RunSpec:
    """The saved config, or `spec` if it differs from it only by a larger `fit.epochs`."""
    saved = load_config(run.file(CONFIG), resuming=True)
    if spec is None:
        return saved
    if spec.backend != saved.backend:
        raise RunDirError(
            f"{run.path} was trained on backend {saved.backend}: it resumes on {saved.backend} "
            f"only (its checkpoint holds that backend's optimizer and random state); drop "
            f"backend={spec.backend}, or start a new run"
        )
    spec = absolute_paths(spec).model_copy(
        update={"name": saved.name, "plugins": saved.plugins, "plugin_paths": saved.plugin_paths}
    )
    changed = [
        key
        for key in differences(saved.model_dump(mode="json"), spec.model_dump(mode="json"))
        # More epochs, or trackers switched on (`--track`): neither changes the training.
        if key != "fit.epochs" and not key.startswith("tracking.")
    ]
    if changed:
        raise RunDirError(
            f"the config differs from the one {run.path} was started with, at "
            f"{', '.join(changed)}; resume without a config, or start a new run"
        )
    if spec.fit.epochs < saved.fit.epochs:
        raise RunDirError(
            f"fit.epochs can only grow on resume ({saved.fit.epochs} -> {spec.fit.epochs})"
        )
    return spec


def self_contained(spec: RunSpec, allow_plugins, search_paths) -> RunSpec:
    """The spec as the run's config.yaml records it: paths absolute, and the plugins
    allowed with `--allow-plugin` and the folders they were found in, so that the
    printed `--resume` line, evaluate and predict work from any folder."""
    spec = absolute_paths(spec)
    plugins = list(dict.fromkeys([*spec.plugins, *allow_plugins]))
    paths = [*spec.plugin_paths, *(str(Path(p).resolve()) for p in search_paths)]
    return spec.model_copy(update={"plugins": plugins, "plugin_paths": list(dict.fromkeys(paths))})


def config_text(spec: RunSpec, resumed: RunDir | None) -> str:
    """The run's config.yaml; a resumed run keeps the `extends:` chain its first start
    recorded (the leading comment lines), since it is read back from config.yaml itself."""
    text = spec.to_yaml()
    if resumed is None or text.startswith("#"):
        return text
    old = resumed.file(CONFIG).read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(itertools.takewhile(lambda line: line.startswith("#"), old)) + text
