"""The config's sections as pydantic models: `RunSpec` and its parts.

The schema below is the single place where defaults are written down; `loading.py`
reads a file into it, `checks.py` checks what it names.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
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
    MAX_TRIALS,
)
from cbrun.config.yaml_loader import describe_value

PHASES = ("fit", "evaluate", "predict")
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


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
    test: int | None = Field(None, gt=0, le=MAX_SAMPLES)


class NamedSpec(_Section):
    """A Keras class by name, with its arguments: `{name: AUC, args: {curve: PR}}`."""

    name: str
    args: dict[str, Any] = {}


class DataSpec(_Section):
    """Which data, from where, and how it is shaped."""

    dataset: Literal["mnist", "fashion_mnist", "arrays", "image_folder"] = "mnist"
    source: Literal["auto", "keras", "bundled", "path"] = "auto"
    path: str | None = None
    # auto: flat rows for the models that take vectors, images for cnn and plugin
    # builders, your own arrays as given (cbrun/config/shapes.py decides, before TensorFlow).
    flatten: bool | Literal["auto"] = "auto"
    limit: LimitSpec = LimitSpec()
    validation_split: float = Field(0.0, ge=0.0, lt=1.0)
    # `arrays` only: the class count (default: one more than the largest label).
    num_classes: int | None = Field(None, gt=0, le=MAX_CLASSES)
    # Keras image augmentation layers applied to training batches only, in order, each
    # draw seeded by (seed, epoch, step): a resumed run sees the same batches.
    augment: list[str | NamedSpec] = []
    # `image_folder` only: the size every image is resized to (height, width), its
    # colours, the share held out as the test split when there is no test/ folder, and
    # where the decoded uint8 arrays are kept (default: $XDG_CACHE_HOME/cbrun/images).
    image_size: list[int] | None = None
    color_mode: Literal["grayscale", "rgb"] = "rgb"
    test_split: float = Field(0.2, gt=0.0, lt=1.0)
    cache: str | None = None

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
    dropout: float = Field(0.2, ge=0.0, lt=1.0)


class ModelSpec(_Section):
    """A registered model builder, or a `keras.applications` backbone, and its arguments."""

    name: str
    args: dict[str, Any] = {}
    # A finished run folder whose model.keras weights this run starts from (fine-tuning):
    # the same model and data shape, checked before TensorFlow (cbrun/config/shapes.py).
    init_from: str | None = None
    # Backbones only (cbrun/catalog/backbones.py): the backbone's starting weights
    # (imagenet, null, a .weights.h5 file, or a run folder that trained the same backbone),
    # whether it starts frozen, and the head cbrun adds.
    weights: str | None = None
    freeze: bool = False
    head: HeadSpec = HeadSpec()


class OptimizerSpec(_Section):
    name: str = "rmsprop"
    args: dict[str, Any] = {}


class CompileSpec(_Section):
    """What `model.compile` receives: names, or classes with arguments."""

    optimizer: OptimizerSpec = OptimizerSpec()
    loss: str | NamedSpec
    metrics: list[str | NamedSpec] = []
    jit_compile: bool | Literal["auto"] = "auto"
    # Keras's mixed precision: layers compute in bfloat16 or float16, variables stay
    # float32; the built-in models keep their output layer float32; float16's loss scale
    # is Keras's own (LossScaleOptimizer, from compile).
    dtype_policy: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"


class FitSpec(_Section):
    """What `model.fit` receives (cbrun always passes `verbose=0`)."""

    batch_size: int = Field(32, gt=0, le=MAX_BATCH)
    epochs: int = Field(1, gt=0, le=MAX_EPOCHS)
    steps_per_epoch: int | None = Field(None, gt=0, le=MAX_STEPS)
    validation_steps: int | None = Field(None, gt=0, le=MAX_STEPS)
    shuffle: bool = True
    steps_per_execution: Any = "auto"
    # A weight per class in the loss: `{0: 1.0, 7: 3.0}` (a class not named weighs 1), or
    # `balanced`: total / (classes x count of the class), from the training labels.
    class_weight: dict[int, float] | Literal["balanced"] | None = None

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
    batch_size: int = Field(128, gt=0, le=MAX_BATCH)
    steps: int | None = Field(None, gt=0, le=MAX_STEPS)


class CallbackSpec(_Section):
    """One callback: a registered name (or allowed plugin), its args, its phases."""

    name: str
    args: dict[str, Any] = {}
    phases: list[Literal["fit", "evaluate", "predict"]] | None = None


class LoggingSpec(_Section):
    """Console and train.log lines: `every` N batches, else about every `seconds`."""

    every: int | None = Field(None, gt=0, le=MAX_STEPS)
    seconds: float = Field(5.0, gt=0, le=DAY)


class OutputSpec(_Section):
    runs_dir: str = "runs"


class DistributeSpec(_Section):
    """A tf.distribute strategy; `fit.batch_size` is the global batch over all replicas."""

    strategy: Literal["default", "mirrored", "multi_worker_mirrored"] = "default"
    devices: list[str] | None = None
    logical_devices: int | None = Field(None, gt=0, le=MAX_DEVICES)
    timeout_seconds: float = Field(60.0, gt=0, le=DAY)


class SweepObjective(_Section):
    """The epoch log a sweep optimises (its best epoch per trial), and which way."""

    monitor: str
    mode: Literal["min", "max"]


BOUNDS = ("lower", "upper")  # a threshold pruner's


class PrunerSpec(_Section):
    """Stop a trial whose objective falls behind: `median` of the trials so far at the
    same epoch, or a `threshold` (`lower`/`upper`); none before `warmup_epochs`."""

    type: Literal["median", "threshold", "none"] = "median"
    warmup_epochs: int = Field(0, ge=0, le=MAX_EPOCHS)
    # median: trials finished before any is pruned (default: a quarter of the sweep's
    # trials, 1 to 5; Optuna's fixed 5 would prune nothing in an 8-trial sweep of 2 workers)
    startup_trials: int | None = Field(None, ge=0, le=MAX_TRIALS)
    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="after")
    def _threshold_bounds(self):
        if self.type != "threshold":
            return self
        if self.lower is None and self.upper is None:
            raise ValueError("a threshold pruner needs lower, upper or both")
        if None not in (self.lower, self.upper) and not self.lower < self.upper:
            raise ValueError(f"lower must be below upper; got {self.lower} and {self.upper}")
        return self


class Dimension(_Section):
    """One searched value: exactly one of `choice`, `uniform`, `log_uniform`, `int`."""

    choice: list | None = Field(None, min_length=1)
    uniform: list[float] | None = Field(None, min_length=2, max_length=2)
    log_uniform: list[float] | None = Field(None, min_length=2, max_length=2)
    # Written `int:` in the config (a field may not be called int here).
    integer: list[int] | None = Field(None, min_length=2, max_length=2, alias="int")

    @property
    def kind(self) -> str:
        return next(k for k in ("choice", "uniform", "log_uniform", "integer") if getattr(self, k))

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("choice", "uniform", "log_uniform", "integer") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of choice, uniform, log_uniform, int")
        bounds = getattr(self, given[0])
        if given[0] != "choice" and not bounds[0] < bounds[1]:
            raise ValueError(f"{given[0]} bounds must rise; got {bounds}")
        if given[0] == "log_uniform" and bounds[0] <= 0:
            raise ValueError(f"log_uniform bounds must be > 0; got {bounds}")
        return self


class SweepSpec(_Section):
    """What `cbrun sweep` searches (ignored by `cbrun train`)."""

    objective: SweepObjective
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    trials: int = Field(8, gt=0, le=MAX_TRIALS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    pruner: PrunerSpec = PrunerSpec()
    space: dict[str, Dimension] = Field(min_length=1)


class MlflowSpec(_Section):
    """An MLflow tracking store: any URI MLflow takes (a server, PostgreSQL, SQLite)."""

    # Default: SQLite `mlflow.db` in the runs folder, a real database and no server.
    uri: str | None = Field(None, min_length=1)
    experiment: str | None = Field(None, min_length=1)  # default: the config's name


class TrackingSpec(_Section):
    """Where results go besides the run folder (default: nowhere else)."""

    tensorboard: bool = False  # RUN/tensorboard/: per-epoch scalars and HParams
    mlflow: MlflowSpec | None = None  # `mlflow: true` for the defaults

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
    # Keras's backend (cbrun/backend.py): set before Keras is imported, so one per process.
    backend: Literal["tensorflow", "jax"] = "tensorflow"
    seed: int = Field(0, ge=0, le=MAX_SEED)
    deterministic: bool = False
    data: DataSpec = DataSpec()
    model: ModelSpec
    compile: CompileSpec
    fit: FitSpec
    evaluate: EvaluateSpec = EvaluateSpec()
    callbacks: list[CallbackSpec] = []
    plugins: list[str] = []
    # Folders where plugin modules are looked for first. A run records here the folder
    # its config was in, so `--resume`, evaluate and predict find them from anywhere.
    plugin_paths: list[str] = []
    logging: LoggingSpec = LoggingSpec()
    output: OutputSpec = OutputSpec()
    distribute: DistributeSpec = DistributeSpec()
    tracking: TrackingSpec = TrackingSpec()
    sweep: SweepSpec | None = None

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
