"""`dataset: image_folder`: a folder of images by class, decoded once into a uint8 cache.

TensorFlow decodes each file (`tf.io.decode_image`: PNG, JPEG, BMP, GIF), converts it
to the colour mode and resizes it to `image_size` (bilinear, as
`keras.utils.image_dataset_from_directory` does). On JAX, Pillow does (a dependency of
matplotlib, so always there): no TensorFlow import for it, and its bilinear resize
filters when it shrinks, so its pixels differ a little; the decoder is part of the
cache's name, so the two never share a cache. The pixels are rounded back to uint8
and written as an uncompressed `.npz` named by a fingerprint of the files (paths,
sizes, modification times) and the settings. A later run, a resumed run or a sweep
trial with the same folder and settings maps that file (`cbrun/data/mapping.py`) and
decodes nothing. The cache folder is `data.cache`, else `$XDG_CACHE_HOME/cbrun/images`
(`~/.cache/cbrun/images`).

The training images are stored in an order shuffled once by the run's seed, so that
`validation_split` (the last fraction, as Keras takes it) holds out every class. With
no `test/` folder, `test_split` of each class is held out, by the same seed, as the
test split.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from cbrun.backend import on_jax
from cbrun.catalog.images import FolderProblem, ImageFolder, scan
from cbrun.data.mapping import load_npz
from cbrun.errors import DataError


def cache_folder(data) -> Path:
    if data.cache:
        return Path(data.cache)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cbrun" / "images"


def fingerprint(folder: ImageFolder, data, seed: int) -> str:
    """The cache's name: what the files are and how they are decoded and split."""
    digest = hashlib.sha256()
    settings = [data.image_size, data.color_mode, data.test_split, seed, list(folder.classes)]
    if on_jax():  # Pillow's pixels; TensorFlow's caches keep their names from before
        settings.append("pillow")
    digest.update(json.dumps(settings).encode())
    for file, label in (*folder.train, *(folder.test or ())):
        stat = os.stat(file)
        digest.update(f"{file}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def split_files(folder: ImageFolder, test_split: float, seed: int):
    """`(train, test)` lists of `(file, label)`: train shuffled by `seed`; test from
    `test/`, else the last `test_split` of each class after the same shuffle."""
    rng = np.random.default_rng([seed, 0x1F0])
    train = [folder.train[i] for i in rng.permutation(len(folder.train))]
    if folder.test is not None:
        return train, list(folder.test)
    kept, test = [], []
    for label in range(len(folder.classes)):
        files = [item for item in train if item[1] == label]
        cut = len(files) - max(1, round(len(files) * test_split)) if len(files) > 1 else 1
        kept += files[:cut]
        test += files[cut:]
    order = rng.permutation(len(kept))
    return [kept[i] for i in order], test


def decode(files: list[tuple[str, int]], size: list[int], color_mode: str) -> np.ndarray:
    """The files as one uint8 array `(N, height, width, channels)`, decoded by TensorFlow
    (by Pillow on JAX)."""
    if on_jax():
        return _decode_with_pillow(files, size, color_mode)
    from cbrun.backend import load_tensorflow

    tf = load_tensorflow()
    channels = 1 if color_mode == "grayscale" else 3
    out = np.empty((len(files), *size, channels), np.uint8)
    for index, (file, _) in enumerate(files):
        try:
            image = tf.io.decode_image(
                tf.io.read_file(file), channels=channels, expand_animations=False
            )
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
            raise DataError(
                f"{file}: TensorFlow cannot decode it ({error.message.splitlines()[0]})"
            ) from None
        resized = tf.image.resize(image, size, method="bilinear")
        out[index] = np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)
    return out


def _decode_with_pillow(files, size: list[int], color_mode: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    mode = "L" if color_mode == "grayscale" else "RGB"
    out = np.empty((len(files), *size, 1 if mode == "L" else 3), np.uint8)
    for index, (file, _) in enumerate(files):
        try:
            with Image.open(file) as image:
                resized = image.convert(mode).resize((size[1], size[0]), Image.BILINEAR)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise DataError(f"{file}: Pillow cannot decode it ({error})") from None
        out[index] = np.asarray(resized).reshape(out.shape[1:])
    return out


def _write_cache(path: Path, arrays: dict) -> None:
    """Written beside, then renamed: a killed decode never leaves a torn cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_image_folder(data, seed: int, announce) -> tuple[dict, ImageFolder, Path, bool]:
    """`(arrays, folder, cache file, decoded now)`: the four arrays of the folder, from the
    cache, decoded into it first when it is not there."""
    try:
        folder = scan(Path(data.path))
    except FolderProblem as error:
        raise DataError(f"{data.path}: {error}") from None
    if folder.unreadable:
        file, why = folder.unreadable[0]
        raise DataError(f"{file} {why}")
    cache = cache_folder(data) / f"images-{fingerprint(folder, data, seed)[:20]}.npz"
    if cache.is_file():
        try:
            arrays = load_npz(cache)
            missing = sorted({"x_train", "y_train", "x_test", "y_test"} - set(arrays))
            if missing:
                raise ValueError(f"it lacks {', '.join(missing)}")
            return arrays, folder, cache, False
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            announce(f"data: the image cache {cache} cannot be read ({error}); decoding again")
    train, test = split_files(folder, data.test_split, seed)
    announce(f"data: decoding {len(train) + len(test):,} images into {cache} (once)")
    arrays = {
        "x_train": decode(train, data.image_size, data.color_mode),
        "y_train": np.array([label for _, label in train], np.int32),
        "x_test": decode(test, data.image_size, data.color_mode),
        "y_test": np.array([label for _, label in test], np.int32),
    }
    _write_cache(cache, arrays)
    return load_npz(cache), folder, cache, True
