"""The `tracking:` section's checks, and the config as the flat keys trackers show.

TensorBoard's HParams and MLflow's params are flat name/value tables: the resolved config
becomes dotted keys (`model.args.units`, `compile.optimizer.args.learning_rate`), lists
and mappings as JSON text, so the same key means the same thing in both tools.
"""

from __future__ import annotations

import json
import posixpath

from cbrun.catalog.extras import missing_extra

TENSORBOARD_FOLDER = "tensorboard"  # in the run folder; cbrun's own, rewritten on resume
# Keys that say nothing about the experiment: where files go, how lines are printed.
_NOT_PARAMETERS = ("logging", "output", "plugin_paths", "tracking", "sweep")


def flat_config(
    data: dict, prefix: str = "", *, skip=_NOT_PARAMETERS, keep_none: bool = False
) -> dict[str, object]:
    """`{dotted.key: value}` of a resolved config (`RunSpec.model_dump(mode="json")`):
    numbers, strings and booleans as they are, lists and empty mappings as JSON. The
    top-level sections in `skip` are left out, and unset (None) values unless `keep_none`
    (the trackers show parameters; `cbrun diff` shows everything)."""
    flat = {}
    for key, value in (data or {}).items():
        if not prefix and key in skip:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flat_config(value, f"{name}.", skip=skip, keep_none=keep_none))
        elif isinstance(value, (list, dict)):
            flat[name] = json.dumps(value, sort_keys=True)
        elif value is not None or keep_none:
            flat[name] = value
    return flat


# The stores MLflow opens, by URI scheme (a `+driver` suffix allowed for databases);
# a URI with no scheme is a local folder.
MLFLOW_SCHEMES = (
    "http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks",
    "databricks-uc", "uc",
)  # fmt: skip


def mlflow_uri_problem(uri: str) -> str | None:
    """Why no MLflow store can open `uri` (its scheme), or None."""
    from urllib.parse import urlsplit

    from cbrun.catalog.registry import did_you_mean

    scheme = urlsplit(uri).scheme.lower().split("+")[0] if "://" in uri or ":" in uri else ""
    if len(scheme) <= 1 or scheme in MLFLOW_SCHEMES:  # none, or a Windows drive letter
        return None
    hint = did_you_mean(scheme, MLFLOW_SCHEMES)
    return (
        f"{uri}: no MLflow store takes the scheme '{scheme}'{hint}; give http(s)://HOST, "
        "sqlite:///FILE, postgresql://..., mysql://..., file:///FOLDER or a folder"
    )


def tracking_problems(spec) -> list:
    """An extra that is not installed, an MLflow URI no store takes, and a TensorBoard
    callback writing where `tracking.tensorboard` writes."""
    tracking, found = spec.tracking, []
    if tracking.tensorboard and (line := missing_extra("tensorboard")):
        found.append((("tracking", "tensorboard"), f"tracking.tensorboard {line}", False))
    if tracking.mlflow is not None and (line := missing_extra("mlflow")):
        found.append((("tracking", "mlflow"), f"tracking.mlflow {line}", False))
    if tracking.mlflow is not None and tracking.mlflow.uri is not None:
        if problem := mlflow_uri_problem(tracking.mlflow.uri):
            found.append((("tracking", "mlflow", "uri"), problem, False))
    if not tracking.tensorboard:
        return found
    for index, callback in enumerate(spec.callbacks):
        if callback.name not in ("TensorBoard", "keras.callbacks.TensorBoard"):
            continue
        folder = posixpath.normpath(str(callback.args.get("log_dir", "logs")))
        if folder == TENSORBOARD_FOLDER or folder.startswith(TENSORBOARD_FOLDER + "/"):
            where = ("callbacks", index, "args", "log_dir")
            message = (
                f"tracking.tensorboard writes RUN/{TENSORBOARD_FOLDER}/ (and rewrites it on "
                "resume): give this callback another log_dir, e.g. keras_tensorboard"
            )
            found.append((where if "log_dir" in callback.args else where[:3], message, False))
    return found


TRACKERS = ("tensorboard", "mlflow")


def with_tracking(spec, track=()):
    """`spec` with the trackers of `--track` turned on (an `mlflow:` mapping the config
    gives is kept: `--track mlflow` only switches it on)."""
    from cbrun.config.spec import MlflowSpec

    track = {track} if isinstance(track, str) else set(track)
    unknown = track - set(TRACKERS)
    if unknown:
        from cbrun.errors import UsageError

        raise UsageError(f"--track {sorted(unknown)[0]}: track with {' or '.join(TRACKERS)}")
    if not track:
        return spec
    update = {}
    if "tensorboard" in track:
        update["tensorboard"] = True
    if "mlflow" in track and spec.tracking.mlflow is None:
        update["mlflow"] = MlflowSpec()
    spec.tracking = spec.tracking.model_copy(update=update)
    problems = tracking_problems(spec)
    if problems:
        from cbrun.errors import UsageError

        raise UsageError(f"--track: {problems[0][1]}")
    return spec
