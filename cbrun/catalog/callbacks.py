"""The built-in callbacks a config may name, described without importing Keras.

The descriptions (arguments, defaults, types, summary, hooks) live in
`signatures.json`, generated from the installed Keras and cbrun's own classes by
`python -m cbrun.build.signatures --write` (make signatures); a test runs its
`--check`, so the table cannot drift from the live classes unnoticed.
"""

from __future__ import annotations

from importlib import metadata

from cbrun.catalog.keras_table import table
from cbrun.catalog.registry import Argument, Entry, Registry

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
    "BatchTimestamps": "cbrun.build.callbacks.printing:BatchTimestamps",
    "LossAndErrorPrinting": "cbrun.build.callbacks.printing:LossAndErrorPrinting",
    "EarlyStoppingAtMinLoss": "cbrun.build.callbacks.early_stopping:EarlyStoppingAtMinLoss",
    "ScheduledLearningRate": "cbrun.build.callbacks.lr_schedule:ScheduledLearningRate",
    "CustomCallback": "cbrun.build.callbacks.tracing:CustomCallback",
    "UnfreezeBackbone": "cbrun.build.callbacks.unfreeze_backbone:UnfreezeBackbone",
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
