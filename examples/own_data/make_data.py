"""Write a small dataset of your own shape: `python examples/own_data/make_data.py [OUT.npz]`.

From the MNIST sample bundled with cbrun: the digits 0-4 only (5 classes), each
image averaged down to 14x14 and scaled to [0, 1], with a validation split of
its own. The result is the layout `dataset: arrays` reads: x_train, y_train,
x_val, y_val, x_test, y_test (examples/own_data/own_data.yaml trains on it).
"""

import sys
from importlib import resources
from pathlib import Path

import numpy as np

CLASSES = 5


def shrink(images: np.ndarray) -> np.ndarray:
    """28x28 uint8 -> 14x14 float32 in [0, 1], each pixel the mean of a 2x2 block."""
    blocks = images.reshape(len(images), 14, 2, 14, 2).astype(np.float32)
    return blocks.mean(axis=(2, 4)) / 255.0


def main(out: Path) -> None:
    with resources.as_file(resources.files("cbrun") / "data" / "mnist_sample.npz") as path:
        with np.load(path, allow_pickle=False) as mnist:
            arrays = {name: mnist[name] for name in mnist.files}
    keep_train = arrays["y_train"] < CLASSES
    keep_test = arrays["y_test"] < CLASSES
    x, y = shrink(arrays["x_train"][keep_train]), arrays["y_train"][keep_train].astype(np.int64)
    cut = int(len(x) * 0.9)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        x_train=x[:cut],
        y_train=y[:cut],
        x_val=x[cut:],
        y_val=y[cut:],
        x_test=shrink(arrays["x_test"][keep_test]),
        y_test=arrays["y_test"][keep_test].astype(np.int64),
    )
    print(f"wrote {out}: {cut} train, {len(x) - cut} validation, {keep_test.sum()} test images")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/own_data/digits5.npz"))
