"""Write a small RGB image folder for the transfer-learning example: digits 0-4 from the
bundled MNIST sample, 48x48, each class in its own colour, PNG files by class.

python examples/transfer/make_images.py [FOLDER]   (default: examples/transfer/photos)

then
cbrun train examples/transfer/transfer.yaml
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = 5
PER_CLASS = 40
TINTS = np.array([[1, 0.3, 0.3], [0.3, 1, 0.3], [0.3, 0.3, 1], [1, 1, 0.3], [1, 0.3, 1]])


def main(folder: Path) -> None:
    with resources.as_file(resources.files("cbrun") / "data" / "mnist_sample.npz") as path:
        with np.load(path) as data:
            images, labels = data["x_train"], data["y_train"]
    for digit in range(CLASSES):
        target = folder / str(digit)
        target.mkdir(parents=True, exist_ok=True)
        for n, index in enumerate(np.flatnonzero(labels == digit)[:PER_CLASS]):
            rgb = (images[index][..., None] * TINTS[digit]).astype(np.uint8)
            Image.fromarray(rgb, "RGB").resize((48, 48)).save(target / f"{n:03d}.png")
    print(f"wrote {folder}: {CLASSES} classes, {CLASSES * PER_CLASS} RGB PNG images")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "photos")
