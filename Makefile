# The commands a person types. Everything runs inside .venv, made with the machine's python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test smoke lint docs bench bench-sweep bench-tracking bench-tracking-faults bench-images bench-backends bench-data signatures sample clean

install: $(STAMP)

# Reinstall only when the project's metadata changed. uv installs the same packages as
# pip from the same registry, with the bytecode compiled as pip does: measured 36 s against
# pip's 86 s on a fresh .venv here, most of it the compiling, which every later
# `import tensorflow` needs where PYTHONDONTWRITEBYTECODE is set. pip if uv cannot.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[dev]' || \
	  $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/cbrun train configs/early_stop.yaml

# Two workers (one per core here) that steal tests from each other. Four won while the
# workers spent 40 CPU-s in garbage collection and two pool processes imported TensorFlow
# per sweep test (-n 2 263-308 s, -n 4 239-249 s, the suite alone); since the suite freezes
# what each test leaves (tests/conftest.py) and a sweep forks its pool, measured here on
# 2026-12-06, one after the other: -n 2 170 s (295 CPU-s), -n 4 173 s (336 CPU-s).
# worksteal beat --dist loadfile, whose slowest file set the end.
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# Every command a user can type, a few steps each, each checked for its artifact.
smoke: install
	scripts/smoke.sh $(BIN)/cbrun

lint: install
	$(BIN)/ruff check cbrun tests bench scripts examples
	$(BIN)/ruff format --check cbrun tests bench scripts examples

# The site, into build/site/ (open index.html): --strict fails on a broken link or a
# reference that cannot be made. Its references are generated from the code at build time
# (scripts/docs_reference.py, mkdocs-click, mkdocstrings).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: install
	$(BIN)/python bench/run.py

# Training speed with --track tensorboard --track mlflow against without.
bench-tracking: install
	$(BIN)/python bench/tracking.py --rounds 4

# P9: MobileNetV3Small on 5,000 RGB PNG files at 96x96, cbrun against a plain script
# (image_dataset_from_directory, uncached and with .cache()).
bench-images: install
	$(BIN)/python bench/images.py --rounds 3

# A tracking store that is down or never answers, against no tracking (issue 37).
bench-tracking-faults: install
	$(BIN)/python bench/tracking_faults.py --rounds 3

# P10: cbrun on JAX and on TensorFlow beside plain Keras on each, mlp and cnn on full
# MNIST (issue 39): epoch times and a cold process's time to its first epoch line.
bench-backends: install
	$(BIN)/python bench/backends.py --rounds 3

# Your own arrays at 60k and 240k images: peak memory growth (P7) and a 5-step run (P8).
bench-data: install
	$(BIN)/python bench/own_data.py --rounds 3

# cbrun sweep against KerasTuner (a bench-only dependency), and the cores per sweep worker.
bench-sweep: install
	$(BIN)/python -m pip install --quiet keras-tuner
	$(BIN)/python bench/sweep_threads.py --rounds 3
	$(BIN)/python bench/sweep_vs_kerastuner.py --rounds 3

# Regenerate the Keras table from the installed Keras, and the JSON Schema made from it.
signatures: install
	$(BIN)/python -m cbrun.build.signatures --write
	$(BIN)/cbrun schema > configs/cbrun.schema.json

# Re-cut the bundled MNIST sample from ../shared/data/mnist.npz.
sample: install
	$(BIN)/python scripts/make_sample.py ../shared/data/mnist.npz cbrun/data/mnist_sample.npz

clean:
	rm -rf runs .pytest_cache .ruff_cache
