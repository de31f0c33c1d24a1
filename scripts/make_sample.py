"""Cut the MNIST sample that cbrun ships, reproducibly.

Usage: python scripts/make_sample.py SOURCE.npz OUT.npz

Takes 1,000 train and 200 test images of each digit from the full MNIST in the
keras layout (by a fixed random permutation, so the cut is stratified and the
same every time), keeps the original uint8 pixels and labels, and writes them
compressed in the same layout. MNIST: Yann LeCun, Corinna Cortes and
Christopher J.C. Burges; distributed under CC BY-SA 3.0, as is this sample.
"""

import hashlib
import sys

import numpy as np

TRAIN_PER_DIGIT = 1000
TEST_PER_DIGIT = 200
SEED = 20261122


def stratified_indices(labels: np.ndarray, per_digit: int, rng: np.random.Generator) -> np.ndarray:
    chosen = []
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        chosen.append(rng.permutation(where)[:per_digit])
    # Sorted, so the sample keeps MNIST's original order (digits interleaved).
    return np.sort(np.concatenate(chosen))


def main(source: str, out: str) -> None:
    rng = np.random.default_rng(SEED)
    with np.load(source, allow_pickle=False) as full:
        train = stratified_indices(full["y_train"], TRAIN_PER_DIGIT, rng)
        test = stratified_indices(full["y_test"], TEST_PER_DIGIT, rng)
        np.savez_compressed(
            out,
            x_train=full["x_train"][train],
            y_train=full["y_train"][train],
            x_test=full["x_test"][test],
            y_test=full["y_test"][test],
        )
    digest = hashlib.sha256(open(out, "rb").read()).hexdigest()
    print(f"wrote {out}: {len(train)} train + {len(test)} test images, sha256 {digest}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    main(sys.argv[1], sys.argv[2])
