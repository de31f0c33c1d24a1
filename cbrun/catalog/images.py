"""What a folder of images by class holds, read from names and first bytes alone.

`dataset: image_folder` reads `path/` with one sub-folder per class, or `path/train/`
and `path/test/` with the same class folders in each (what
`keras.utils.image_dataset_from_directory` reads). The config check asks this module,
before TensorFlow: the folder exists, classes are found, each has images, and every
image file starts the way its format does (a truncated or renamed file is named, one
line each). Decoding is `cbrun/data/images.py`'s.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cbrun.filesystem import describe_os_error

# The formats TensorFlow's decode_image reads, by suffix, with the bytes each starts with.
SIGNATURES = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".bmp": (b"BM",),
    ".gif": (b"GIF87a", b"GIF89a"),
}
# More bad files than this are counted, not listed.
LISTED = 20


class FolderProblem(ValueError):
    """A folder that cannot be read as images by class; the message says why."""


@dataclass(frozen=True)
class ImageFolder:
    """The image files of each split, by class (classes sorted, as Keras does)."""

    classes: tuple[str, ...]
    train: tuple[tuple[str, int], ...]  # (file, class index), in sorted order
    test: tuple[tuple[str, int], ...] | None  # None: one folder, the test split held out
    unreadable: tuple[tuple[str, str], ...]  # (file, why)

    def counts(self, split: str = "train") -> list[int]:
        files = getattr(self, split) or ()
        found = [0] * len(self.classes)
        for _, label in files:
            found[label] += 1
        return found


def scan(path: Path) -> ImageFolder:
    """The folder's classes and files, or `FolderProblem`. Cached per folder state."""
    try:
        stat = os.stat(path)
    except OSError as error:
        raise FolderProblem(f"no such folder ({error.strerror})") from None
    if not Path(path).is_dir():
        raise FolderProblem("not a folder; image_folder reads a folder of class folders")
    try:
        return _scan(str(path), stat.st_mtime_ns)
    except OSError as error:  # a link loop, a folder that cannot be listed
        raise FolderProblem(describe_os_error(error)) from None


@functools.lru_cache(maxsize=8)
def _scan(path: str, _mtime_ns: int) -> ImageFolder:
    root = Path(path)
    if (root / "train").is_dir():
        train_classes, train, bad = _split(root / "train")
        test_classes, test, bad_test = (
            _split(root / "test") if (root / "test").is_dir() else ([], None, [])
        )
        if test is not None and test_classes != train_classes:
            missing = sorted(set(train_classes) ^ set(test_classes))
            raise FolderProblem(
                f"train/ and test/ hold different classes ({', '.join(missing)} in one only)"
            )
        return ImageFolder(tuple(train_classes), train, test, tuple(bad + bad_test))
    classes, train, bad = _split(root)
    return ImageFolder(tuple(classes), train, None, tuple(bad))


def _split(folder: Path):
    with os.scandir(folder) as entries:  # closed even when an entry raises (a link loop)
        classes = sorted(d.name for d in entries if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise FolderProblem(f"{folder} has no class folders (one sub-folder per class)")
    files, bad = [], []
    for label, name in enumerate(classes):
        with os.scandir(folder / name) as entries:
            images = sorted(
                entry.path
                for entry in entries
                if entry.is_file() and Path(entry.name).suffix.lower() in SIGNATURES
            )
        if not images:
            raise FolderProblem(
                f"class folder {folder / name} holds no images (.png, .jpg, .bmp, .gif)"
            )
        for image in images:
            why = _unreadable(image)
            if why:
                bad.append((image, why))
            else:
                files.append((image, label))
    return classes, tuple(files), bad


def _unreadable(file: str) -> str | None:
    """Why a file cannot be an image of its suffix's format, or None."""
    starts = SIGNATURES[Path(file).suffix.lower()]
    try:
        with open(file, "rb") as f:
            head = f.read(8)
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if not head:
        return "is empty"
    if not any(head.startswith(s) for s in starts):
        kind = Path(file).suffix.lower().lstrip(".").upper()
        return f"is not a {kind} image (it does not start as one does)"
    return None


def folder_problems(path: Path) -> list[str]:
    """Each thing wrong with the folder, in words: the folder's one problem, or one line
    per unreadable file (at most LISTED, then a count)."""
    try:
        folder = scan(path)
    except FolderProblem as error:
        return [str(error)]
    lines = [f"{file} {why}" for file, why in folder.unreadable[:LISTED]]
    if len(folder.unreadable) > LISTED:
        more = len(folder.unreadable) - LISTED
        lines.append(
            f"and {more} more file that is not an image"
            if more == 1
            else f"and {more} more files that are not images"
        )
    return lines


def folder_classes(data) -> int:
    """How many classes an `image_folder` config's folder holds (0: cannot be read)."""
    try:
        return len(scan(Path(data.path)).classes) if data.path else 0
    except FolderProblem:
        return 0
