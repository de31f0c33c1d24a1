"""The same MLP as cbrun's bench config, as a plain Keras script (the baseline).

python bench/plain_keras.py MNIST.npz EPOCHS STEPS_PER_EXECUTION  → JSON on stdout
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402


class EpochTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main(path, epochs, steps_per_execution):
    keras.utils.set_random_seed(0)
    with np.load(path, allow_pickle=False) as data:
        x = data["x_train"].reshape(-1, 784).astype("float32") / 255.0
        y = data["y_train"].astype("int32")
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    times = EpochTimes()
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, callbacks=[times])
    print(json.dumps({"epochs": times.seconds}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
