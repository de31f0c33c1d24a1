"""The config's sections as pydantic models: `RunSpec` and its parts.

The schema below is the single place where defaults are written down; `loading.py`
reads a file into it, `checks.py` checks what it names.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from cbrun.catalog.backbones import is_backbone
from cbrun.catalog.limits import (
    DAY,
    MAX_BATCH,
    MAX_CLASSES,
    MAX_DEVICES,
    MAX_EPOCHS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_STEPS,
)
from cbrun.config.base import _Section
from cbrun.config.sweep_spec import BOUNDS, SweepSpec
from cbrun.config.yaml_loader import describe_value

PHASES = ("fit", "evaluate", "predict")
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _auto_or_positive(value):
    whole = isinstance(value, int) and not isinstance(value, bool)
    if value == "auto" or (whole and 0 < value <= MAX_STEPS):
        return value
    raise ValueError(
        f"must be auto or an integer from 1 to {MAX_STEPS}; got {describe_value(value)}"
    )


class LimitSpec(_Section):
    """How many images of each split to use (the first N); null uses all."""

    train: int | None = Field(None, gt=0, le=MAX_SAMPLES)
    """Use the first N training images (null: all)."""
    test: int | None = Field(None, gt=0, le=MAX_SAMPLES)
    """Use the first N test images (null: all)."""


class NamedSpec(_Section):
    """A Keras class by name, with its arguments: `{name: AUC, args: {curve: PR}}`."""

    name: str
    """The Keras class's name, as `keras.metrics`, `keras.losses` or `keras.layers` spells it."""
    args: dict[str, Any] = {}
    """Its constructor's arguments, checked against Keras's signature."""


class DataSpec(_Section):
    """Which data, from where, and how it is shaped."""

    dataset: Literal["mnist", "fashion_mnist", "arrays", "image_folder"] = "mnist"
    """Which data: MNIST, Fashion-MNIST, your own arrays (`.npz`) or a folder of images by class."""
    source: Literal["auto", "keras", "bundled", "path"] = "auto"
    """Where MNIST comes from: `auto` (Keras's cache, else the bundled sample), `keras`,
    `bundled` (a 12,000-image cut shipped with cbrun) or `path`."""
    path: str | None = None
    """The file or folder to read: an `.npz` (MNIST's layout, or your arrays) or an image
    folder; relative to where cbrun runs."""
    # auto: flat rows for the models that take vectors, images for cnn and plugin
    # builders, your own arrays as given (cbrun/config/shapes.py decides, before TensorFlow).
    flatten: bool | Literal["auto"] = "auto"
    """Feed 784-value rows (`true`) or 28x28x1 images (`false`); `auto` decides by the model."""
    limit: LimitSpec = LimitSpec()
    """How many images of each split to use."""
    validation_split: float = Field(0.0, ge=0.0, lt=1.0)
    """The last fraction of the training images held out for validation, as Keras takes it."""
    # `arrays` only: the class count (default: one more than the largest label).
    num_classes: int | None = Field(None, gt=0, le=MAX_CLASSES)
    """`arrays` only: the number of classes (default: one more than the largest label)."""
    # Keras image augmentation layers applied to training batches only, in order, each
    # draw seeded by (seed, epoch, step): a resumed run sees the same batches.
    augment: list[str | NamedSpec] = []
    """Keras image augmentation layers for training batches, in order (names or `{name,
    args}`), seeded by seed, epoch and step."""
    # `image_folder` only: the size every image is resized to (height, width), its
    # colours, the share held out as the test split when there is no test/ folder, and
    # where the decoded uint8 arrays are kept (default: $XDG_CACHE_HOME/cbrun/images).
    image_size: list[int] | None = None
    """`image_folder` only: `[height, width]` every image is resized to (bilinear)."""
    color_mode: Literal["grayscale", "rgb"] = "rgb"
    """`image_folder` only: decode as 1 channel (`grayscale`) or 3 (`rgb`)."""
    test_split: float = Field(0.2, gt=0.0, lt=1.0)
    """`image_folder` only, with no `test/` folder: the share of each class held out as the
    test split."""
    cache: str | None = None
    """`image_folder` only: where the decoded uint8 arrays are kept (default
    `$XDG_CACHE_HOME/cbrun/images`)."""

    @field_validator("image_size")
    @classmethod
    def _image_size(cls, value):
        if value is not None and (
            len(value) != 2 or any(isinstance(v, bool) or not 0 < v <= 4096 for v in value)
        ):
            raise ValueError(f"give [height, width], each 1-4096; got {value}")
        return value

    @model_validator(mode="after")
    def _path_means_path(self):
        # `auto` picks where the data comes from; a path given is the answer.
        if self.source == "auto" and self.path is not None:
            self.source = "path"
        return self


class HeadSpec(_Section):
    """What cbrun puts on a `keras.applications` backbone: pooling, dropout, then
    Dense(num_classes) with a softmax."""

    pooling: Literal["avg", "max"] = "avg"
    """How the backbone's feature map is pooled: global average or max."""
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    """Dropout before the final Dense layer."""


class ModelSpec(_Section):
    """A registered model builder, or a `keras.applications` backbone, and its arguments."""

    name: str
    """A built-in builder (`linear`, `mlp`, `cnn`, `sequential`), an allowed plugin's
    (`module:function`) or a `keras.applications` architecture."""
    args: dict[str, Any] = {}
    """The builder's or the architecture's arguments (`cbrun validate` lists the defaults)."""
    # A finished run folder whose model.keras weights this run starts from (fine-tuning):
    # the same model and data shape, checked before TensorFlow (cbrun/config/shapes.py).
    init_from: str | None = None
    """A finished run folder whose `model.keras` weights this run starts from (the same model
    and data shape)."""
    # Backbones only (cbrun/catalog/backbones.py): the backbone's starting weights
    # (imagenet, null, a .weights.h5 file, or a run folder that trained the same backbone),
    # whether it starts frozen, and the head cbrun adds.
    weights: str | None = None
    """Backbones only: `imagenet`, null (random), a `.weights.h5` file or a run folder that
    trained the same backbone."""
    freeze: bool = False
    """Backbones only: start with the backbone frozen (train the head; `UnfreezeBackbone` fine-
    tunes later)."""
    head: HeadSpec = HeadSpec()
    """Backbones only: the head cbrun puts on the backbone."""


class OptimizerSpec(_Section):
    name: str = "rmsprop"
    """A `keras.optimizers` class or its short name (`adam`, `rmsprop`, ...)."""
    args: dict[str, Any] = {}
    """Its arguments (`learning_rate`, ...), checked against Keras's signature."""


class CompileSpec(_Section):
    """What `model.compile` receives: names, or classes with arguments."""

    optimizer: OptimizerSpec = OptimizerSpec()
    """The optimizer and its arguments."""
    loss: str | NamedSpec
    """A `keras.losses` name or `{name, args}`; it must fit the model's output and the labels."""
    metrics: list[str | NamedSpec] = []
    """`keras.metrics` names or `{name, args}`; each is logged under the name Keras gives it."""
    jit_compile: bool | Literal["auto"] = "auto"
    """XLA compilation of the train step, as `model.compile` takes it."""
    # Keras's mixed precision: layers compute in bfloat16 or float16, variables stay
    # float32; the built-in models keep their output layer float32; float16's loss scale
    # is Keras's own (LossScaleOptimizer, from compile).
    dtype_policy: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"
    """Keras's mixed precision: layers compute in bfloat16 or float16, variables stay float32."""


class FitSpec(_Section):
    """What `model.fit` receives (cbrun always passes `verbose=0`)."""

    batch_size: int = Field(32, gt=0, le=MAX_BATCH)
    """Images per step (the global batch, over every device)."""
    epochs: int = Field(1, gt=0, le=MAX_EPOCHS)
    """How many epochs; a finished run continues with `--resume --set fit.epochs=N`."""
    steps_per_epoch: int | None = Field(None, gt=0, le=MAX_STEPS)
    """Steps in each epoch (null: one pass over the training images)."""
    validation_steps: int | None = Field(None, gt=0, le=MAX_STEPS)
    """Validation batches each epoch (null: all)."""
    shuffle: bool = True
    """A new order each epoch, a function of the seed and the epoch alone."""
    steps_per_execution: Any = "auto"
    """Steps per call into the backend: a number, or `auto` (32 unless a callback needs every
    batch hook, then 1)."""
    # A weight per class in the loss: `{0: 1.0, 7: 3.0}` (a class not named weighs 1), or
    # `balanced`: total / (classes x count of the class), from the training labels.
    class_weight: dict[int, float] | Literal["balanced"] | None = None
    """A weight per class in the loss (`{0: 1.0, 7: 3.0}`; a class not named weighs 1), or
    `balanced`."""

    @field_validator("class_weight", mode="before")
    @classmethod
    def _weights(cls, value):
        # One line for every wrong form, rather than one per member of the union.
        forms = "balanced, or class ids to weights, e.g. {0: 1.0, 7: 3.0}"
        if value is None or value == "balanced":
            return value
        if not isinstance(value, dict):
            raise ValueError(f"give {forms}; got {describe_value(value)}")
        for key, weight in value.items():
            if not isinstance(key, int) or isinstance(key, bool) or key < 0:
                raise ValueError(f"class ids are whole numbers >= 0; got {key!r}: give {forms}")
            number = isinstance(weight, (int, float)) and not isinstance(weight, bool)
            if not number or not 0 < weight < 1e6:
                raise ValueError(f"class {key}: a weight is a number > 0 and < 1e6; got {weight!r}")
        return {key: float(weight) for key, weight in value.items()}

    _check_spe = field_validator("steps_per_execution", mode="before")(
        lambda cls, v: _auto_or_positive(v)
    )


class EvaluateSpec(_Section):
    """What `model.evaluate` receives after training; `enabled: false` skips it."""

    enabled: bool = True
    """Evaluate on the test split after training."""
    batch_size: int = Field(128, gt=0, le=MAX_BATCH)
    """Images per evaluation step."""
    steps: int | None = Field(None, gt=0, le=MAX_STEPS)
    """Evaluation batches (null: the whole test split)."""


class CallbackSpec(_Section):
    """One callback: a registered name (or allowed plugin), its args, its phases."""

    name: str
    """A registered callback (`cbrun list-callbacks`) or an allowed plugin's (`module:Class`)."""
    args: dict[str, Any] = {}
    """Its constructor's arguments; a path argument is resolved inside the run folder."""
    phases: list[Literal["fit", "evaluate", "predict"]] | None = None
    """Which of fit, evaluate and predict it joins (default: fit)."""


class LoggingSpec(_Section):
    """Console and train.log lines: `every` N batches, else about every `seconds`."""

    every: int | None = Field(None, gt=0, le=MAX_STEPS)
    """A batch line every N steps (null: about every `seconds`)."""
    seconds: float = Field(5.0, gt=0, le=DAY)
    """Without `every`: a batch line about this often."""


class OutputSpec(_Section):
    runs_dir: str = "runs"
    """The folder run folders are made in."""


class DistributeSpec(_Section):
    """A tf.distribute strategy; `fit.batch_size` is the global batch over all replicas."""

    strategy: Literal["default", "mirrored", "multi_worker_mirrored"] = "default"
    """`mirrored`: every device of this machine (Keras's DataParallel on JAX);
    `multi_worker_mirrored`: several machines (TensorFlow only)."""
    devices: list[str] | None = None
    """`mirrored` on TensorFlow: which devices (null: every GPU, else the CPU)."""
    logical_devices: int | None = Field(None, gt=0, le=MAX_DEVICES)
    """Split this machine's CPU into N devices (to try a strategy without GPUs)."""
    timeout_seconds: float = Field(60.0, gt=0, le=DAY)
    """`multi_worker_mirrored`: how long a worker waits for its peers."""


class MlflowSpec(_Section):
    """An MLflow tracking store: any URI MLflow takes (a server, PostgreSQL, SQLite)."""

    # Default: SQLite `mlflow.db` in the runs folder, a real database and no server.
    uri: str | None = Field(None, min_length=1)
    """The tracking store (default: SQLite `mlflow.db` in the runs folder)."""
    experiment: str | None = Field(None, min_length=1)  # default: the config's name
    """The MLflow experiment (default: the config's name)."""


class TrackingSpec(_Section):
    """Where results go besides the run folder (default: nowhere else)."""

    tensorboard: bool = False  # RUN/tensorboard/: per-epoch scalars and HParams
    """Write `RUN/tensorboard/`: per-epoch scalars and HParams."""
    mlflow: MlflowSpec | None = None  # `mlflow: true` for the defaults
    """Send the run to MLflow (`true` for the defaults)."""

    @field_validator("mlflow", mode="before")
    @classmethod
    def _switch(cls, value):
        if isinstance(value, bool):
            return {} if value else None
        return value

    @property
    def active(self) -> bool:
        return self.tensorboard or self.mlflow is not None


class RunSpec(_Section):
    """A whole experiment. `model`, `compile` and `fit` are required sections."""

    name: str | None = None
    """The run's name: its folder is `NAME-YYYYmmdd-HHMMSS` (default: the config file's name)."""
    # Keras's backend (cbrun/backend.py): set before Keras is imported, so one per process.
    backend: Literal["tensorflow", "jax"] = "tensorflow"
    """Keras's backend; the config decides, not `KERAS_BACKEND`. `jax` needs `cbrun[jax]`."""
    seed: int = Field(0, ge=0, le=MAX_SEED)
    """Seeds Python, NumPy and Keras, and each epoch's order."""
    deterministic: bool = False
    """TensorFlow's op determinism (slower; same results on the same machine)."""
    data: DataSpec = DataSpec()
    """The data."""
    model: ModelSpec
    """The model."""
    compile: CompileSpec
    """What `model.compile` receives."""
    fit: FitSpec
    """What `model.fit` receives."""
    evaluate: EvaluateSpec = EvaluateSpec()
    """The evaluation on the test split after training."""
    callbacks: list[CallbackSpec] = []
    """Callbacks by name, with their arguments and phases."""
    plugins: list[str] = []
    """Plugin modules allowed to provide callbacks and models (default-deny)."""
    # Folders where plugin modules are looked for first. A run records here the folder
    # its config was in, so `--resume`, evaluate and predict find them from anywhere.
    plugin_paths: list[str] = []
    """Folders where plugin modules are looked for first (recorded by cbrun)."""
    logging: LoggingSpec = LoggingSpec()
    """How often batch lines are printed."""
    output: OutputSpec = OutputSpec()
    """Where run folders go."""
    distribute: DistributeSpec = DistributeSpec()
    """Several devices or machines."""
    tracking: TrackingSpec = TrackingSpec()
    """TensorBoard and MLflow."""
    sweep: SweepSpec | None = None
    """What `cbrun sweep` searches."""

    @field_validator("name")
    @classmethod
    def _names_a_folder(cls, value):
        if value is not None and not RUN_NAME.match(value):
            raise ValueError(
                f"'{value}' cannot name a run folder: use letters, digits, "
                "'.', '_' and '-', starting with a letter or digit"
            )
        return value

    # The files an `extends:` chain composed it from, with their sha256 (not a key).
    _chain: list = PrivateAttr(default_factory=list)
    # Where each value the files and --set give came from (`cbrun diff` shows it).
    _origins: dict = PrivateAttr(default_factory=dict)

    def to_yaml(self, *, argument_defaults: bool = False) -> str:
        """The resolved config, every section's default written out; with
        `argument_defaults`, also the defaults of every named thing's arguments. A config
        composed with `extends:` starts with a comment naming each file and its sha256."""
        data = self.model_dump(mode="json", by_alias=True)
        if isinstance(self.fit.class_weight, dict):  # JSON made its class ids strings
            data["fit"]["class_weight"] = dict(self.fit.class_weight)
        if not is_backbone(self.model.name):  # the backbone-only keys mean nothing here
            for key in ("weights", "freeze", "head"):
                data["model"].pop(key, None)
        if data.get("sweep"):
            # Only what is set: a dimension's one kind; a pruner's bounds when it has them.
            sweep = data["sweep"]
            sweep["space"] = {
                key: {kind: v for kind, v in dimension.items() if v is not None}
                for key, dimension in sweep["space"].items()
            }
            if sweep["pruner"]["type"] != "threshold":
                sweep["pruner"] = {k: v for k, v in sweep["pruner"].items() if k not in BOUNDS}
        if argument_defaults:
            from cbrun.config.arguments import with_defaults

            data = with_defaults(data)
        header = "".join(
            f"# {'resolved from' if i == 0 else '  extending'} {link['file']} "
            f"(sha256 {link['sha256']})\n"
            for i, link in enumerate(self._chain if len(self._chain) > 1 else [])
        )
        return header + yaml.safe_dump(data, sort_keys=False, width=100)
