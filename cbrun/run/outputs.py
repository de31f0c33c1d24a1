"""Every path a run will write, probed before any work: the run folder's parent (or the
resumed folder), the image cache, a local MLflow store. One line, exit 2, nothing
written, before the data is read and before TensorFlow loads (`cbrun/filesystem.py`)."""

from __future__ import annotations

from pathlib import Path

from cbrun.config.spec import RunSpec
from cbrun.errors import UsageError
from cbrun.filesystem import probe_file, probe_folder


def probe_outputs(spec: RunSpec, *, run_dir=None, runs_dir=None, resume=None) -> None:
    """Refuse, with the option or key that named it, a path the run could not write.

    Args:
        spec: the validated config.
        run_dir: `--run-dir`, the exact new folder (its parent is probed).
        runs_dir: `--runs-dir`; else `output.runs_dir`.
        resume: `--resume`, the folder written in place.
    """
    if resume is not None:
        probe_folder(resume, "--resume")
    elif run_dir is not None:
        probe_folder(Path(run_dir).parent, "--run-dir")
    else:
        probe_folder(
            runs_dir or spec.output.runs_dir, "--runs-dir" if runs_dir else "output.runs_dir"
        )
    if spec.data.dataset == "image_folder":
        from cbrun.data.images import cache_folder

        probe_folder(
            cache_folder(spec.data), "data.cache" if spec.data.cache else "the image cache"
        )
    probe_store(spec)
    probe_callback_paths(spec)
    probe_imagenet(spec)


def probe_imagenet(spec: RunSpec, timeout: float = 2.0) -> None:
    """`model.weights: imagenet` whose file is not in Keras's cache while Keras's download
    host cannot be reached: one line naming the file and where to put it, before
    TensorFlow (cbrun/catalog/backbones.py knows Keras's file names)."""
    import socket

    from cbrun.catalog import backbones

    if spec.model.weights != "imagenet" or not backbones.is_backbone(spec.model.name):
        return
    size = spec.data.image_size[0] if spec.data.image_size else None
    name = backbones.imagenet_file(spec.model.name, spec.model.args, size)
    folder = backbones.keras_models_folder()
    if name is None or (folder / name).is_file():
        return
    try:
        socket.create_connection(backbones.WEIGHTS_HOST, timeout=timeout).close()
    except OSError:
        host = backbones.WEIGHTS_HOST[0]
        raise UsageError(
            f"model.weights: imagenet: {name} is not in {folder} and {host} cannot be "
            f"reached: download it (Keras's keras-applications files on {host}) and put it "
            f"at {folder / name}"
        ) from None


# The arguments that name a folder (the others name a file, whose folder is probed).
_FOLDER_ARGUMENTS = ("log_dir", "backup_dir")


def probe_callback_paths(spec: RunSpec) -> None:
    """A callback's absolute path argument (`ModelCheckpoint`'s `filepath: /data/best.keras`);
    a relative one lies in the run folder, probed with it. A `{epoch}` pattern is probed by
    its folder."""
    from cbrun.catalog.callbacks import PATH_ARGUMENTS

    for index, callback in enumerate(spec.callbacks):
        for key in PATH_ARGUMENTS:
            value = callback.args.get(key)
            if not isinstance(value, str) or not Path(value).is_absolute():
                continue
            where = f"callbacks[{index}].args.{key}"
            folder = Path(value) if key in _FOLDER_ARGUMENTS else Path(value).parent
            probe_folder(folder, where, target=value)


def probe_store(spec: RunSpec) -> None:
    """A local MLflow store the config names (the default, beside the runs, is probed
    with them); a server is asked for its health from now on, in a thread, so that a
    silent one costs the run nothing (cbrun/tracking/mlflow_logger.py)."""
    mlflow = spec.tracking.mlflow
    if mlflow is None or mlflow.uri is None:
        return
    from cbrun.tracking.mlflow_logger import check_server_early, local_store

    check_server_early(mlflow.uri)
    found = local_store(mlflow.uri)
    if found is not None:
        path, is_file = found
        (probe_file if is_file else probe_folder)(path, "tracking.mlflow.uri")
