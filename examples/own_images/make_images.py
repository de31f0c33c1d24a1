"""Write a small image folder from the bundled MNIST sample: PNG files by class.

python examples/own_images/make_images.py [FOLDER]   (default: examples/own_images/digits)

FOLDER/train/<digit>/<n>.png (60 per digit) and FOLDER/test/<digit>/<n>.png (12 per digit),
the layout `dataset: image_folder` reads; then
cbrun train examples/own_images/own_images.yaml
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

# Class folders are sorted by name, as Keras sorts them: "0".."9" keep label = digit.
NAMES = [str(digit) for digit in range(10)]


def main(folder: Path) -> None:
    with resources.as_file(resources.files("cbrun") / "data" / "mnist_sample.npz") as path:
        with np.load(path) as data:
            splits = {
                "train": (data["x_train"], data["y_train"], 60),
                "test": (data["x_test"], data["y_test"], 12),
            }
    for split, (images, labels, per_class) in splits.items():
        for digit, name in enumerate(NAMES):
            target = folder / split / name
            target.mkdir(parents=True, exist_ok=True)
            for n, index in enumerate(np.flatnonzero(labels == digit)[:per_class]):
                Image.fromarray(images[index]).save(target / f"{n:03d}.png")
    print(f"wrote {folder}: 10 classes, 600 train and 120 test PNG images")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "digits")
