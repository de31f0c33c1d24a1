"""MNIST (and Fashion-MNIST) from the Keras cache, a Keras download, a local file,
or the sample shipped with cbrun.

Reading and checking the files needs only NumPy, so a bad data file is reported
before TensorFlow loads and before any run directory exists. Only a Keras
download imports Keras.

The bundled sample is a stratified cut of MNIST (10,000 train + 2,000 test
images) made by `scripts/make_sample.py`. MNIST is by Yann LeCun, Corinna
Cortes and Christopher J.C. Burges, under CC BY-SA 3.0.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from cbrun.data.idx import find_idx, read_idx
from cbrun.errors import DataError

SPLITS = ("x_train", "y_train", "x_test", "y_test")
BUNDLED = {"mnist": "mnist_sample.npz"}
KERAS_CACHE = {"mnist": "mnist.npz", "fashion_mnist": "fashion-mnist"}
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class DataInfo:
    """Where the data came from; goes into `summary.json` as `data`."""

    dataset: str
    source: str
    path: str | None
    sha256: str
    train_samples: int
    test_samples: int
    classes: tuple | None = None  # image_folder: the class names, by label
    cache: str | None = None  # image_folder: the decoded uint8 arrays

    def describe(self) -> str:
        where = {
            "bundled": "the sample bundled with cbrun (a 12,000-image cut, not the full set)",
            "keras": f"the Keras cache ({self.path})",
            "path": str(self.path),
        }[self.source]
        what = "samples" if self.dataset == "arrays" else "images"
        if self.classes:
            what += f" of {len(self.classes)} classes"
        return (
            f"data: {self.dataset} from {where}: "
            f"{self.train_samples:,} train / {self.test_samples:,} test {what}"
        )

    def to_dict(self) -> dict:
        found = dict(self.__dict__)
        found["classes"] = list(self.classes) if self.classes else None
        return found


@dataclass
class Dataset:
    """Arrays shaped for the model, features as stored (MNIST's uint8 pixels, a
    memory-mapped file's own dtype) and divided by `scale` when fed; labels int32 (or
    float32 targets, `num_classes` None, for a regression)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: DataInfo
    num_classes: int | None = 10
    x_val: np.ndarray | None = None  # validation arrays given as such (`arrays` data)
    y_val: np.ndarray | None = None
    # What features are divided by on their way in (255 for pixels); None: cast only.
    scale: float | None = 255.0
    # One sample as an image (height, width, channels), flat or not; None: not images.
    image_shape: tuple | None = (28, 28, 1)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """A few of these features as the model takes them: float32, divided by `scale`."""
        x = np.asarray(x, dtype=np.float32)
        return x / np.float32(self.scale) if self.scale else x


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def check_arrays(arrays: dict, name: str) -> None:
    """Refuse anything that is not MNIST-shaped: keys, shapes, dtypes, labels 0-9."""
    missing = [k for k in SPLITS if k not in arrays]
    if missing:
        raise DataError(
            f"{name}: missing arrays {', '.join(missing)} (expected {', '.join(SPLITS)})"
        )
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{name}: x_{split} has shape {x.shape}, expected (N, 28, 28)")
        if x.dtype != np.uint8:
            raise DataError(f"{name}: x_{split} has dtype {x.dtype}, expected uint8 pixels")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{name}: y_{split} has shape {y.shape}, expected ({len(x)},)")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{name}: y_{split} has dtype {y.dtype}, expected integer labels")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{name}: y_{split} holds labels outside 0-9")
        if len(x) == 0:
            raise DataError(f"{name}: x_{split} is empty")


def read_npz(path: Path) -> dict:
    """The four arrays of an `.npz` in the `keras.datasets` layout, checked."""
    from cbrun.data.mapping import load_npz

    try:
        # Stored members memory-mapped, compressed ones read (cbrun/data/mapping.py).
        arrays = {k: v for k, v in load_npz(path).items() if k in SPLITS}
        check_arrays(arrays, str(path))
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    return arrays


def read_idx_folder(folder: Path) -> tuple[dict, list[Path]]:
    files = {split: find_idx(folder, split) for split in SPLITS}
    arrays = {split: read_idx(path) for split, path in files.items()}
    check_arrays(arrays, str(folder))
    return arrays, list(files.values())


def read_path(path: Path) -> tuple[dict, list[Path]]:
    """An `.npz` file, or a folder of the four IDX files."""
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path), [path]
    raise DataError(f"{path}: no such file or folder")


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _from_keras_cache(dataset: str):
    cached = keras_cache_dir() / KERAS_CACHE[dataset]
    if not cached.exists() or (cached.is_dir() and not any(cached.iterdir())):
        return None  # an empty folder is what a failed Keras download leaves behind
    return read_path(cached)


def _from_keras_download(dataset: str):
    """Ask Keras to download; fails (DataError) when offline."""
    from cbrun.backend import load_keras

    keras = load_keras()

    loader = getattr(keras.datasets, dataset).load_data
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    try:
        # Keras prints "Downloading data from ..." to stdout; keep our console clean.
        with contextlib.redirect_stdout(io.StringIO()):
            loader()
    except Exception as error:  # Keras wraps every network failure differently.
        raise DataError(f"Keras could not download {dataset}: {error}") from None
    finally:
        socket.setdefaulttimeout(previous)
    found = _from_keras_cache(dataset)
    if found is None:
        raise DataError(f"Keras downloaded {dataset} but it is not in {keras_cache_dir()}")
    return found


def _bundled(dataset: str):
    if dataset not in BUNDLED:
        raise DataError(f"cbrun bundles no sample of {dataset}; use source: keras or path")
    with resources.as_file(resources.files("cbrun") / "data" / BUNDLED[dataset]) as path:
        return read_npz(path), [path]


def read_raw(dataset: str, source: str, path: Path | None):
    """The raw uint8 arrays and what they came from: `(arrays, files, source)`.

    `auto` tries the Keras cache, then a Keras download, then the bundled sample.
    """
    if source == "path":
        return (*read_path(path), "path")
    if source == "bundled":
        return (*_bundled(dataset), "bundled")
    if source == "keras":
        found = _from_keras_cache(dataset) or _from_keras_download(dataset)
        return (*found, "keras")
    found = _from_keras_cache(dataset)
    if found is not None:
        return (*found, "keras")
    try:
        return (*_from_keras_download(dataset), "keras")
    except DataError as error:
        if dataset not in BUNDLED:
            raise DataError(f"{error}; and cbrun bundles no sample of {dataset}") from None
        return (*_bundled(dataset), "bundled")


def _shaped(x: np.ndarray, flatten: bool) -> np.ndarray:
    # A view: the pixels stay uint8, scaled batch by batch (cbrun/data/feeding.py).
    return x.reshape(len(x), -1) if flatten else x[..., np.newaxis]


def load_dataset(
    dataset: str,
    source: str = "auto",
    path: Path | None = None,
    *,
    flatten: bool = True,
    limit_train: int | None = None,
    limit_test: int | None = None,
    announce: Callable[[str], None] | None = None,
) -> Dataset:
    """Load, check and prepare a dataset.

    Args:
        dataset: `mnist` or `fashion_mnist`.
        source: `auto`, `keras`, `bundled` or `path`. Defaults to `"auto"`.
        path: the `.npz` file or IDX folder, for `source="path"`.
        flatten: 784 floats per image, else 28x28x1. Defaults to `True`.
        limit_train: keep only the first N training images. Defaults to all.
        limit_test: keep only the first N test images. Defaults to all.
        announce: called with one line saying which source was used.

    Raises:
        DataError: the data is missing, unreadable or malformed.
    """
    arrays, files, used = read_raw(dataset, source, path)
    x_train, y_train = arrays["x_train"][:limit_train], arrays["y_train"][:limit_train]
    x_test, y_test = arrays["x_test"][:limit_test], arrays["y_test"][:limit_test]
    info = DataInfo(
        dataset=dataset,
        source=used,
        path=str(files[0] if len(files) == 1 else files[0].parent) if used != "bundled" else None,
        sha256=_sha256(files),
        train_samples=len(x_train),
        test_samples=len(x_test),
    )
    if announce:
        announce(info.describe())
    return Dataset(
        x_train=_shaped(x_train, flatten),
        y_train=y_train.astype(np.int32),
        x_test=_shaped(x_test, flatten),
        y_test=y_test.astype(np.int32),
        info=info,
    )


class _Kept:
    """The last dataset loaded, kept for the next run with the same `data:` section inside
    `keeping_last_dataset()`: a sweep's trials in one process share it (measured: 0.33 s a
    trial on full MNIST, of reading, checking and hashing the same file)."""

    enabled = False
    key: str | None = None
    dataset: Dataset | None = None


@contextlib.contextmanager
def keeping_last_dataset():
    """Within the block, runs with the same `data:` section share one loaded dataset."""
    _Kept.enabled = True
    try:
        yield
    finally:
        _Kept.enabled, _Kept.key, _Kept.dataset = False, None, None


def load_configured(data, announce: Callable[[str], None] = print, *, seed: int = 0) -> Dataset:
    """The dataset a config's `data:` section describes (a `DataSpec`); `seed` (the run's)
    shuffles and splits an image folder."""
    key = f"{seed}:{data.model_dump_json()}"
    if _Kept.enabled and _Kept.key == key:
        announce(_Kept.dataset.info.describe())
        return _Kept.dataset
    dataset = _load_configured(data, announce, seed)
    if _Kept.enabled:
        _Kept.key, _Kept.dataset = key, dataset
    return dataset


def _load_configured(data, announce: Callable[[str], None], seed: int) -> Dataset:
    if data.dataset == "arrays":
        return _load_own_arrays(data, announce)
    if data.dataset == "image_folder":
        return _load_image_folder(data, announce, seed)
    return load_dataset(
        data.dataset,
        data.source,
        Path(data.path) if data.path else None,
        flatten=data.flatten,
        limit_train=data.limit.train,
        limit_test=data.limit.test,
        announce=announce,
    )


def _load_own_arrays(data, announce) -> Dataset:
    """`dataset: arrays`: the user's .npz, checked by `cbrun/data/arrays.py`."""
    from cbrun.data.arrays import check_arrays, read_arrays

    path = Path(data.path)
    arrays = read_arrays(path)
    classes = check_arrays(path, arrays, data.num_classes)
    if "x_val" in arrays and data.validation_split:
        raise DataError(f"{path}: holds x_val and y_val; leave data.validation_split at 0")
    limits = {"train": data.limit.train, "test": data.limit.test, "val": None}

    def features(split):
        # As stored (a view of the mapped file): cast to float32 batch by batch.
        x = arrays[f"x_{split}"][: limits[split]]
        return x.reshape(len(x), -1) if data.flatten else x

    def targets(split):
        return arrays[f"y_{split}"][: limits[split]].astype(
            np.float32 if classes is None else np.int32
        )

    has_val = "x_val" in arrays
    info = DataInfo(
        dataset="arrays",
        source="path",
        path=str(path),
        sha256=_sha256([path]),
        train_samples=len(features("train")),
        test_samples=len(features("test")),
    )
    announce(info.describe())
    return Dataset(
        x_train=features("train"),
        y_train=targets("train"),
        x_test=features("test"),
        y_test=targets("test"),
        info=info,
        num_classes=classes,
        x_val=features("val") if has_val else None,
        y_val=targets("val") if has_val else None,
        scale=None,
        image_shape=tuple(arrays["x_train"].shape[1:]) if arrays["x_train"].ndim == 4 else None,
    )


def _load_image_folder(data, announce, seed: int) -> Dataset:
    """`dataset: image_folder`, from its uint8 cache (cbrun/data/images.py)."""
    from cbrun.data.images import load_image_folder

    found, folder, cache, _ = load_image_folder(data, seed, announce)
    limits = {"train": data.limit.train, "test": data.limit.test}
    arrays = {name: array[: limits[name[2:]]] for name, array in found.items()}
    flatten = data.flatten is True
    info = DataInfo(
        dataset="image_folder",
        source="path",
        path=str(data.path),
        sha256=cache.stem.removeprefix("images-"),
        train_samples=len(arrays["x_train"]),
        test_samples=len(arrays["x_test"]),
        classes=folder.classes,
        cache=str(cache),
    )
    announce(info.describe())
    shaped = {k: v.reshape(len(v), -1) if flatten else v for k, v in arrays.items() if k[0] == "x"}
    return Dataset(
        **shaped,
        y_train=arrays["y_train"],
        y_test=arrays["y_test"],
        info=info,
        num_classes=len(folder.classes),
        image_shape=tuple(arrays["x_train"].shape[1:]),
    )
