"""The largest values a config or a command takes: bounds a real run could use, so that
an absurd value is one line before TensorFlow rather than a traceback from inside it
(or an allocation that cannot succeed). Plain numbers: the CLI reads them at --help."""

from __future__ import annotations

MAX_SAMPLES = 10**9  # images in a split: far past any dataset cbrun reads into memory
MAX_CLASSES = 100_000  # ImageNet-21k has 21,841; a softmax of 1e5 classes is still real
MAX_BATCH = 1 << 20  # 1,048,576: past the largest published large-batch runs (64k-256k)
MAX_EPOCHS = 1_000_000
MAX_STEPS = 10**9  # steps per epoch: at 1 ms a step, eleven days
MAX_DEVICES = 64  # logical CPU devices for a mirrored strategy on one machine
MAX_TRIALS = 100_000
MAX_SEED = 2**32 - 1  # what NumPy's and TensorFlow's seeds take
DAY = 86_400.0  # seconds
MAX_JOBS = 256  # sweep worker processes on one machine
MAX_PREDICT = 100_000  # images `cbrun predict --count` prints
