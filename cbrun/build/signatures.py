"""Writes the catalog's table from the live classes: `make signatures`.

    python -m cbrun.build.signatures --write     # regenerate cbrun/catalog/signatures.json
    python -m cbrun.build.signatures --check     # exit 1 if it drifted from the live classes
    python -m cbrun.build.signatures --cache     # a table for another installed Keras

The table holds every Keras name a config may use (`keras_table.generate`), Keras's and
cbrun's callbacks, and cbrun's model builders; this is the one module that imports them
all to describe them, so everything below reads the table instead.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata

from cbrun.build.models import MODELS
from cbrun.catalog.backbones import BACKBONES, CBRUN_SETS
from cbrun.catalog.callbacks import CBRUN, KERAS, UNAVAILABLE
from cbrun.catalog.keras_table import TABLE as SIGNATURES
from cbrun.catalog.keras_table import cache_path, describe_class, generate
from cbrun.catalog.models import INJECTED, OPTIMIZERS
from cbrun.catalog.registry import Entry, describe


def _callbacks() -> dict:
    """Describe every built-in from the live classes (imports Keras)."""
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


def _models() -> dict:
    """cbrun's model builders, from their live signatures (the injected arguments left out)."""
    models = {}
    for name in MODELS.names():
        builder = MODELS.get(name).load()
        record = describe_class(builder, skip=INJECTED, known_types={})
        record["target"] = f"{builder.__module__}:{builder.__name__}"
        models[name] = record
    return models


def main(argv: list[str]) -> int:
    generated = {
        "generated_from": _versions(),
        "callbacks": _callbacks(),
        "models": _models(),
        **generate(OPTIMIZERS.values(), BACKBONES, CBRUN_SETS),
    }
    text = json.dumps(generated, indent=1, sort_keys=True, default=repr) + "\n"
    if argv == ["--write"]:
        SIGNATURES.write_text(text, encoding="utf-8")
        print(f"wrote {SIGNATURES}")
        return 0
    if argv == ["--cache"]:
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
    print("usage: python -m cbrun.build.signatures --write | --check | --cache", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
