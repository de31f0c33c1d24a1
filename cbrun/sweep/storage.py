"""A sweep's Optuna study in its RDB storage (SQLite by default; PostgreSQL or any
database SQLAlchemy reaches, shared by processes on many machines): opened with
retries, its errors as one line, and checked to search what the config searches.
"""

from __future__ import annotations

import time

from cbrun.errors import UsageError
from cbrun.sweep.space import make_pruner, make_sampler


def open_study(url: str, name: str, spec):
    """The study `name` in Optuna's RDB storage at `url`, created when new.

    Processes that start together race to create the storage's tables (one of them
    fails with "table ... already exists"): a few retries settle it. Several processes
    share one SQLite file: they wait up to a minute for its write lock rather than fail
    with "database is locked". A storage that cannot be opened is one line, exit 2.
    """
    import optuna
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(5):
        try:
            study = optuna.create_study(
                storage=optuna.storages.RDBStorage(url, engine_kwargs=kwargs),
                study_name=name,
                direction="maximize" if spec.sweep.objective.mode == "max" else "minimize",
                sampler=make_sampler(spec),
                pruner=make_pruner(spec),
                load_if_exists=True,
            )
            return _same_search(study, url, name, spec)
        except ArgumentError as error:
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
