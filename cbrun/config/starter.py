"""`cbrun init`: a first config, commented, that validates and trains as written; or a
copy of one of the configs cbrun ships (package data, so a plain `pip install` has them).

The schema goes beside it (`cbrun.schema.json`, named by the first line's
`yaml-language-server` header) so an editor completes and checks every key.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cbrun.errors import UsageError
from cbrun.filesystem import probe_file

MODELS = ("linear", "mlp", "cnn")  # and every keras.applications backbone
DATASETS = ("mnist", "fashion_mnist", "arrays", "image_folder")
IMAGE_CLASSES = (0, 1, 2)  # the digits an `image_folder` starter's folder holds
IMAGES_PER_CLASS = 40
SCHEMA = "cbrun.schema.json"
# What a callback needs that has no default, where cbrun init can choose it.
REQUIRED_CHOICES = {
    "ModelCheckpoint": {"filepath": "checkpoints/best.keras", "monitor": "val_loss"},
    "CSVLogger": {"filename": "epochs.csv"},
}

_MODEL_LINES = {
    "linear": "model:\n  name: linear            # the guide's one Dense unit on flat pixels\n",
    "mlp": (
        "model:\n  name: mlp               # Dense layers on flat pixels\n"
        "  args: {units: [64]}     # one hidden layer of 64; [128, 64] for two\n"
    ),
    "cnn": "model:\n  name: cnn               # convolutions on 28x28x1 images\n",
}
_LOSS = {
    "linear": "  loss: mean_squared_error         # one output: the label as a number\n"
    "  metrics: [mae]\n",
    "mlp": "  loss: sparse_categorical_crossentropy   # integer labels, one output per class\n"
    "  metrics: [accuracy]\n",
}


def example_names() -> list[str]:
    """The shipped configs, by name (`early_stop`, `sweep_mlp` ...)."""
    folder = resources.files("cbrun") / "configs"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def _data_lines(dataset: str, data_file: str | None, size: int = 32) -> str:
    if dataset == "image_folder":
        return (
            "data:\n"
            f"  dataset: image_folder\n  path: {data_file}   # a folder of class folders\n"
            f"  image_size: [{size}, {size}]   # every image resized to this (height, width)\n"
            "  color_mode: rgb\n"
            "  validation_split: 0.2   # the last 20% of the training images for val_ metrics\n"
        )
    if dataset == "arrays":
        return (
            "data:\n"
            f"  dataset: arrays\n  path: {data_file}   # x_train, y_train, x_test, y_test\n"
            "  validation_split: 0.1   # the last 10% of the training rows for val_ metrics\n"
        )
    return (
        f"data:\n  dataset: {dataset:<14}# mnist | fashion_mnist | arrays (your .npz)\n"
        "  validation_split: 0.1   # the last 10% of training images for val_ metrics\n"
    )


def _callback_lines(callbacks: list[str]) -> str:
    from cbrun.catalog.callbacks import callback_registry
    from cbrun.catalog.registry import did_you_mean

    registry = callback_registry()
    lines = ["callbacks:                # cbrun list-callbacks shows them all\n"]
    for name in callbacks:
        if name not in registry:
            hint = did_you_mean(name, registry.names())
            raise UsageError(f"--callbacks {name}: no such callback{hint}")
        entry = registry.get(name)
        if entry.unavailable:
            raise UsageError(f"--callbacks {name}: {entry.unavailable}")
        chosen = REQUIRED_CHOICES.get(name, {})
        needed = [a.name for a in entry.arguments if a.required and a.name not in chosen]
        if needed:
            raise UsageError(
                f"--callbacks {name}: needs {', '.join(needed)}, which cbrun init cannot "
                "choose; add it to the config yourself"
            )
        args = dict(chosen)
        if name == "EarlyStopping":
            args = {"monitor": "val_loss", "patience": 2, "restore_best_weights": True}
        text = ", ".join(f"{k}: {v}" if not isinstance(v, bool) else f"{k}: {str(v).lower()}"
                         for k, v in args.items())  # fmt: skip
        lines.append(f"  - name: {name}\n" + (f"    args: {{{text}}}\n" if args else ""))
    return "".join(lines) if callbacks else ""


def _backbone_text(name: str, model: str, callbacks: list[str], data_file: str) -> str:
    """Transfer learning as the Keras guide does it: the head on a frozen backbone, then
    the backbone's top layers fine-tuned at a lower learning rate (UnfreezeBackbone)."""
    from cbrun.catalog.backbones import BACKBONES

    size = max(32, BACKBONES[model].min_size)
    own = [c for c in callbacks if c != "UnfreezeBackbone"]
    unfreeze = (
        "  - name: UnfreezeBackbone  # then fine-tune the top of the backbone\n"
        "    args: {at_epoch: 3, layers: 20, learning_rate: 1.0e-4}\n"
    )
    rest = _callback_lines(own).partition("\n")[2]  # without its `callbacks:` line
    return (
        f"# yaml-language-server: $schema={SCHEMA}\n"
        "# Made by `cbrun init`: transfer learning. Check it with `cbrun validate FILE`, train\n"
        "# it with `cbrun train FILE`.\n"
        f"name: {name}\n"
        "seed: 0                   # the same seed, the same run\n"
        + _data_lines("image_folder", data_file, size)
        + "model:\n"
        f"  name: {model:<18}# any keras.applications architecture\n"
        "  args: {}                # its own arguments (cbrun validate FILE lists them)\n"
        "  weights: null           # imagenet: Keras downloads them once into ~/.keras/models\n"
        "  freeze: true            # train the head first, on a frozen backbone\n"
        "  head: {dropout: 0.2}    # cbrun adds pooling, dropout and Dense(classes)\n"
        "compile:\n"
        "  optimizer: {name: adam, args: {learning_rate: 0.001}}\n"
        + _LOSS["mlp"]
        + "fit:\n  batch_size: 16\n  epochs: 4\n"
        + "callbacks:                # cbrun list-callbacks shows them all\n"
        + unfreeze
        + rest
    )


def starter_text(name: str, model: str, dataset: str, callbacks: list[str], data_file=None) -> str:
    """A commented config for `model` on `dataset` with `callbacks` (names)."""
    from cbrun.catalog.backbones import is_backbone

    if is_backbone(model):
        return _backbone_text(name, model, callbacks, data_file)
    return (
        f"# yaml-language-server: $schema={SCHEMA}\n"
        "# Made by `cbrun init`. Check it with `cbrun validate FILE`, train it with\n"
        "# `cbrun train FILE`; every key and its default: `cbrun validate FILE` prints them.\n"
        f"name: {name}\n"
        "seed: 0                   # the same seed, the same run\n"
        + _data_lines(dataset, data_file)
        + _MODEL_LINES[model]
        + "compile:\n"
        "  optimizer: {name: adam, args: {learning_rate: 0.001}}\n"
        + _LOSS["linear" if model == "linear" else "mlp"]
        + "fit:\n  batch_size: 64\n  epochs: 5\n"
        + _callback_lines(callbacks)
    )


def write_starter(
    path: Path, *, model="mlp", dataset="mnist", callbacks=(), example=None
) -> list[Path]:
    """Write the config (and the schema beside it, and for `arrays` a small `.npz` cut
    from the bundled sample so it trains as written); the files written."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise UsageError(f"{path} exists: cbrun init never overwrites; give another PATH")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: no such folder")
    probe_file(path, "PATH")
    if example is not None:
        if example not in example_names():
            raise UsageError(f"--example {example}: one of {', '.join(example_names())}")
        text = (resources.files("cbrun") / "configs" / f"{example}.yaml").read_text("utf-8")
        return _write(path, text, [])
    from cbrun.catalog.backbones import BACKBONES, is_backbone

    if model not in MODELS and not is_backbone(model):
        from cbrun.catalog.registry import did_you_mean

        hint = did_you_mean(model, [*MODELS, *BACKBONES])
        raise UsageError(
            f"--model {model}: one of {', '.join(MODELS)} or a keras.applications "
            f"architecture (MobileNetV3Small, ResNet50, ...){hint}"
        )
    if dataset not in DATASETS:
        raise UsageError(f"--dataset is one of {', '.join(DATASETS)}")
    if is_backbone(model) and dataset != "image_folder":
        raise UsageError(
            f"--model {model} needs images of at least {BACKBONES[model].min_size}x"
            f"{BACKBONES[model].min_size}: give --dataset image_folder"
        )
    # data.path is read from the folder cbrun runs in (README): written as the path from
    # here, where the printed `cbrun train PATH` runs, not from the config's folder.
    target = {
        "arrays": path.parent / f"{path.stem}_arrays.npz",
        "image_folder": path.parent / f"{path.stem}_images",
    }.get(dataset)
    data_file = _from_here(target) if target is not None else None
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in path.stem).strip("-._")
    text = starter_text(stem or "run", model, dataset, list(callbacks), data_file)
    writers = {"arrays": _sample_arrays, "image_folder": _sample_images}
    extra = [writers[dataset](target)] if target is not None else []  # checked first
    return _write(path, text, extra)


def _from_here(path: Path) -> str:
    """`path` relative to the working folder when it lies inside it, else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _write(path: Path, text: str, extra: list[Path]) -> list[Path]:
    path.write_text(text, encoding="utf-8")
    written = [path, *extra]
    schema = path.parent / SCHEMA
    if not schema.exists():
        source = resources.files("cbrun") / "configs" / SCHEMA
        schema.write_text(source.read_text("utf-8"), encoding="utf-8")
        written.append(schema)
    return written


def _sample_arrays(target: Path) -> Path:
    """1,000 training and 200 test images of the bundled sample, as your own arrays."""
    import numpy as np

    if target.exists():
        raise UsageError(f"{target} exists: cbrun init never overwrites; give another PATH")
    with resources.as_file(resources.files("cbrun") / "data" / "mnist_sample.npz") as sample:
        with np.load(sample) as data:
            # Images as (N, 28, 28, 1): what every built-in model takes as given.
            arrays = {
                "x_train": data["x_train"][:1000, ..., None],
                "y_train": data["y_train"][:1000],
                "x_test": data["x_test"][:200, ..., None],
                "y_test": data["y_test"][:200],
            }
    np.savez(target, **arrays)
    return target


def _sample_images(target: Path) -> Path:
    """An image folder cut from the bundled sample: digits 0-2 as 32x32 RGB PNG files (each
    digit padded and tinted by its class), `IMAGES_PER_CLASS` each. No TensorFlow or Pillow:
    PNG is written with zlib."""
    import numpy as np

    if target.exists():
        raise UsageError(f"{target} exists: cbrun init never overwrites; give another PATH")
    with resources.as_file(resources.files("cbrun") / "data" / "mnist_sample.npz") as sample:
        with np.load(sample) as data:
            images, labels = data["x_train"], data["y_train"]
    tints = np.array([[1.0, 0.4, 0.4], [0.4, 1.0, 0.4], [0.4, 0.4, 1.0]])
    for label in IMAGE_CLASSES:
        folder = target / str(label)
        folder.mkdir(parents=True)
        for n, index in enumerate(np.flatnonzero(labels == label)[:IMAGES_PER_CLASS]):
            padded = np.pad(images[index], 2)
            rgb = (padded[..., None] * tints[label]).astype(np.uint8)
            (folder / f"{n:03d}.png").write_bytes(_png(rgb))
    return target


def _png(rgb) -> bytes:
    """An 8-bit RGB PNG of a (height, width, 3) uint8 array."""
    import struct
    import zlib

    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
