"""A sweep's Optuna study in its RDB storage (SQLite by default; PostgreSQL or any
database SQLAlchemy reaches, shared by processes on many machines): opened with
retries, its errors as one line, and checked to search what the config searches.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

from cbrun.errors import UsageError
from cbrun.sweep.space import make_pruner, make_sampler

IN_MEMORY = ("sqlite://", "sqlite:///:memory:")


def check_url(url: str | None, name: str | None) -> None:
    """Refuse, before anything is written, a storage URL or study name no sweep can use."""
    if url is not None:
        if not url.strip():
            raise UsageError("--storage is empty: leave it out for SQLite in the sweep folder")
        if url.split("?")[0] in IN_MEMORY:
            raise UsageError(
                f"--storage {url}: an in-memory database, which workers cannot share and "
                "--resume cannot find; give a file, e.g. sqlite:///sweeps/study.db"
            )
    if name is not None and not name.strip():
        raise UsageError("--study is empty: leave it out to use the config's name")


def open_study(url: str, name: str, spec):
    """The study `name` in Optuna's RDB storage at `url`, created when new.

    Processes that start together race to create the storage's tables (one of them
    fails with "table ... already exists"): a few retries settle it. Several processes
    share one SQLite file: they wait up to a minute for its write lock rather than fail
    with "database is locked". A storage that cannot be opened is one line, exit 2.
    """
    import optuna
    from sqlalchemy.exc import ArgumentError, SAWarning, SQLAlchemyError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                # A URL argument the driver ignores would be a warning on the console.
                warnings.simplefilter("error", SAWarning)
                storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                direction="maximize" if spec.sweep.objective.mode == "max" else "minimize",
                sampler=make_sampler(spec),
                pruner=make_pruner(spec),
                load_if_exists=True,
            )
            return _same_search(study, url, name, spec)
        except (ArgumentError, SAWarning) as error:
            raise UsageError(f"--storage {url}: {error}") from None
        except ImportError as error:  # the database's driver
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            raise UsageError(f"--storage {url}: {error}{cause}") from None
        except SQLAlchemyError as error:
            if attempt == 4:
                reason = str(error.orig if getattr(error, "orig", None) else error)
                raise UsageError(f"--storage {url}: {reason.splitlines()[0]}") from None
            time.sleep(0.2 * (attempt + 1))


def _same_search(study, url: str, name: str, spec):
    """The study, once it is known to search what `spec` searches: processes that share a
    study must agree on its objective and space, or its trials would not compare."""
    search = spec.sweep.model_dump(mode="json", by_alias=True, include={"objective", "space"})
    recorded = study.user_attrs.get("search")
    if recorded is None:
        study.set_user_attr("search", search)
    elif recorded != search:
        differ = sorted(k for k in search if recorded.get(k) != search[k])
        raise UsageError(
            f"--storage {url} --study {name}: that study searches another "
            f"{' and '.join(differ)} than this config's sweep: section; give another --study"
        )
    return study


def recorded_state(folder: Path, name: str) -> dict:
    """What `sweep.json` in `folder` records, checked before the storage is opened: a
    folder that is no sweep, or a sweep whose SQLite study is gone, is one line (opening
    it would make a new, empty study and claim trial 0 again)."""
    state_file = Path(folder) / name
    if not state_file.is_file():
        raise UsageError(f"{folder}: not a cbrun sweep folder (no {name})")
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{state_file}: not readable as a sweep's state ({error})") from None
    needed = ("storage", "study", "trials_asked", "trials")
    if not isinstance(state, dict) or any(key not in state for key in needed):
        raise UsageError(f"{state_file}: not a cbrun sweep's state (needs {', '.join(needed)})")
    url = str(state["storage"])
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise UsageError(
            f"{folder}: its study storage {url.removeprefix('sqlite:///')} is missing; "
            f"restore it to resume ({name} records {len(state['trials'])} trials, but not the "
            "sampler's history)"
        )
    return state


def check_holds(study_trials: list, state: dict, folder: Path) -> None:
    """Refuse a storage that holds fewer trials than the sweep recorded: it is another
    sweep's, or was emptied, and resuming into it would overwrite what was found."""
    if len(study_trials) < len(state["trials"]):
        raise UsageError(
            f"{folder}: the study {state['study']} in {state['storage']} holds "
            f"{len(study_trials)} trials, the sweep recorded {len(state['trials'])}; it is not "
            "this sweep's storage (restore it, or start a new sweep)"
        )


def never_less(state_file: Path, trials: list) -> None:
    """`sweep.json` is never rewritten from fewer trials than it already holds."""
    try:
        held = len(json.loads(state_file.read_text(encoding="utf-8"))["trials"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # none yet, or unreadable: nothing to keep
    if len(trials) < held:
        raise UsageError(
            f"{state_file} holds {held} trials and the study {len(trials)}: not rewritten "
            "(the study's storage is not this sweep's)"
        )


def probe_sweep_outputs(spec, runs_dir, storage) -> None:
    """The sweep folder's parent, a SQLite storage file and a local MLflow store, probed
    before anything is written (cbrun/filesystem.py)."""
    from cbrun.filesystem import probe_file, probe_folder
    from cbrun.run.outputs import probe_store

    probe_folder(runs_dir or spec.output.runs_dir, "--runs-dir" if runs_dir else "output.runs_dir")
    if storage and storage.startswith("sqlite:///"):
        probe_file(storage.removeprefix("sqlite:///").split("?")[0], "--storage")
    probe_store(spec)
