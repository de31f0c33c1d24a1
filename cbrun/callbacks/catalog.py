"""The built-in callbacks a config may name, described without importing Keras.

The descriptions (arguments, defaults, types, summary, hooks) live in
`signatures.json`, generated from the installed Keras and cbrun's own classes:

    python -m cbrun.callbacks.catalog --write     # regenerate (make signatures)
    python -m cbrun.callbacks.catalog --check     # exit 1 if it drifted

`tests/callbacks/test_catalog.py` runs the check, so the table cannot drift
from the live classes unnoticed.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata

from cbrun.keras_signatures import TABLE as SIGNATURES
from cbrun.keras_signatures import table
from cbrun.registry import Argument, Entry, Registry

ENTRY_POINT_GROUP = "cbrun.callbacks"

# name → import target. Keras callbacks are resolved through the public API.
KERAS = {
    name: f"keras.callbacks:{name}"
    for name in (
        "EarlyStopping",
        "ModelCheckpoint",
        "BackupAndRestore",
        "CSVLogger",
        "TensorBoard",
        "ReduceLROnPlateau",
        "LearningRateScheduler",
        "TerminateOnNaN",
        "SwapEMAWeights",
        "RemoteMonitor",
        "LambdaCallback",
    )
}
CBRUN = {
    "BatchTimestamps": "cbrun.callbacks.printing:BatchTimestamps",
    "LossAndErrorPrinting": "cbrun.callbacks.printing:LossAndErrorPrinting",
    "EarlyStoppingAtMinLoss": "cbrun.callbacks.early_stopping:EarlyStoppingAtMinLoss",
    "ScheduledLearningRate": "cbrun.callbacks.lr_schedule:ScheduledLearningRate",
    "CustomCallback": "cbrun.callbacks.tracing:CustomCallback",
}
UNAVAILABLE = {
    "BackupAndRestore": "cbrun makes every run resumable itself (cbrun train --resume RUN_DIR), "
    "with each callback's state, which BackupAndRestore does not keep; two restores would "
    "compete. Remove it",
    "RemoteMonitor": "it posts every epoch to an HTTP server; cbrun runs offline and "
    "sends nothing over the network from a config",
    "LambdaCallback": "its arguments are Python functions, which YAML cannot hold; "
    "write a plugin callback instead (see examples/)",
}
# Arguments naming a file or folder: resolved inside the run directory.
PATH_ARGUMENTS = ("filepath", "filename", "log_dir", "backup_dir")


def _generate() -> dict:
    """Describe every built-in from the live classes (imports Keras)."""
    from cbrun.registry import describe

    table = {}
    for names, origin in ((KERAS, "keras"), (CBRUN, "cbrun")):
        for name, target in names.items():
            entry = Entry(name=name, target=target).load()
            described = describe(entry, name=name, origin=origin)
            record = described.to_dict()
            record["target"] = target
            record["accepts_extra"] = described.accepts_extra
            if origin == "keras":
                # Keras's own callbacks act in fit; their on_test_* hooks serve
                # the validation pass inside fit, not `evaluate`.
                record["phases"] = ["fit"]
            record["unavailable_reason"] = UNAVAILABLE.get(name)
            record["available"] = name not in UNAVAILABLE
            table[name] = record
    return table


def _versions() -> dict:
    return {"keras": metadata.version("keras")}


def _entry(record: dict) -> Entry:
    return Entry(
        name=record["name"],
        target=record["target"],
        origin=record["origin"],
        summary=record["summary"],
        doc=record["doc"],
        arguments=tuple(Argument.from_record(a) for a in record["arguments"]),
        accepts_extra=record["accepts_extra"],
        hooks=tuple(record["hooks"]),
        phases=tuple(record["phases"]),
        unavailable=record["unavailable_reason"],
    )


def _plugin_entries() -> list[Entry]:
    """Callbacks that installed packages expose under the `cbrun.callbacks` group."""
    entries = []
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        entries.append(
            Entry(
                name=point.name,
                target=point.value,
                origin="plugin",
                summary=f"installed plugin ({point.value}); described when loaded",
                accepts_extra=True,
                phases=("fit",),
            )
        )
    return entries


def callback_registry() -> Registry:
    """A registry holding every built-in callback and every installed plugin."""
    registry = Registry("callback")
    records = table()["callbacks"]
    for record in records.values():
        registry.add(_entry(record))
    for entry in _plugin_entries():
        if entry.name not in registry:
            registry.add(entry)
    return registry


def main(argv: list[str]) -> int:
    from cbrun.keras_signatures import generate

    generated = {"generated_from": _versions(), "callbacks": _generate(), **generate()}
    text = json.dumps(generated, indent=1, sort_keys=True, default=repr) + "\n"
    if argv == ["--write"]:
        SIGNATURES.write_text(text, encoding="utf-8")
        print(f"wrote {SIGNATURES}")
        return 0
    if argv == ["--cache"]:
        from cbrun.keras_signatures import cache_path

        target = cache_path(generated["generated_from"]["keras"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if argv == ["--check"]:
        if SIGNATURES.read_text(encoding="utf-8") != text:
            print(f"{SIGNATURES} is out of date: run `make signatures`", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m cbrun.callbacks.catalog --write | --check | --cache", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
