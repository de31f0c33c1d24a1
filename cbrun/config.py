"""The config: one schema, loaded from YAML with positions, overridable with `--set`.

`load_config(path, overrides)` returns a validated `RunSpec` or raises a
`ConfigError` listing every problem as `file:line:col: key.path: message`.
Nothing here imports TensorFlow: a config mistake is reported at once.

The schema below is the single place where defaults are written down.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cbrun.callbacks.catalog import PATH_ARGUMENTS, callback_registry
from cbrun.errors import ConfigError, Problem
from cbrun.models import INJECTED, MODELS, OPTIMIZERS
from cbrun.registry import Registry, did_you_mean, type_accepts
from cbrun.schedules import schedule_problems
from cbrun.yaml_loader import Document, describe_value, format_path, load_yaml

MAX_CONFIG_BYTES = 1 << 20
MAX_PROBLEMS = 20
PHASES = ("fit", "evaluate", "predict")
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _auto_or_positive(value):
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ValueError(f"must be auto or an integer > 0; got {describe_value(value)}")


class LimitSpec(_Section):
    """How many images of each split to use (the first N); null uses all."""

    train: int | None = Field(None, gt=0)
    test: int | None = Field(None, gt=0)


class DataSpec(_Section):
    """Which data, from where, and how it is shaped."""

    dataset: Literal["mnist", "fashion_mnist"] = "mnist"
    source: Literal["auto", "keras", "bundled", "path"] = "auto"
    path: str | None = None
    flatten: bool = True
    limit: LimitSpec = LimitSpec()
    validation_split: float = Field(0.0, ge=0.0, lt=1.0)


class ModelSpec(_Section):
    """A registered model builder and its arguments."""

    name: str
    args: dict[str, Any] = {}


class OptimizerSpec(_Section):
    name: str = "rmsprop"
    args: dict[str, Any] = {}


class CompileSpec(_Section):
    """What `model.compile` receives."""

    optimizer: OptimizerSpec = OptimizerSpec()
    loss: str
    metrics: list[str] = []
    jit_compile: bool | Literal["auto"] = "auto"


class FitSpec(_Section):
    """What `model.fit` receives (cbrun always passes `verbose=0`)."""

    batch_size: int = Field(32, gt=0)
    epochs: int = Field(1, gt=0)
    steps_per_epoch: int | None = Field(None, gt=0)
    validation_steps: int | None = Field(None, gt=0)
    shuffle: bool = True
    steps_per_execution: Any = "auto"

    _check_spe = field_validator("steps_per_execution", mode="before")(
        lambda cls, v: _auto_or_positive(v)
    )


class EvaluateSpec(_Section):
    """What `model.evaluate` receives after training; `enabled: false` skips it."""

    enabled: bool = True
    batch_size: int = Field(128, gt=0)
    steps: int | None = Field(None, gt=0)


class CallbackSpec(_Section):
    """One callback: a registered name (or allowed plugin), its args, its phases."""

    name: str
    args: dict[str, Any] = {}
    phases: list[Literal["fit", "evaluate", "predict"]] | None = None


class LoggingSpec(_Section):
    """Console and train.log lines: `every` N batches, else about every `seconds`."""

    every: int | None = Field(None, gt=0)
    seconds: float = Field(5.0, gt=0)


class OutputSpec(_Section):
    runs_dir: str = "runs"


class DistributeSpec(_Section):
    """A tf.distribute strategy; `fit.batch_size` is the global batch over all replicas."""

    strategy: Literal["default", "mirrored", "multi_worker_mirrored"] = "default"
    devices: list[str] | None = None
    logical_devices: int | None = Field(None, gt=0)
    timeout_seconds: float = Field(60.0, gt=0)


class RunSpec(_Section):
    """A whole experiment. `model`, `compile` and `fit` are required sections."""

    name: str | None = None
    seed: int = 0
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

    def to_yaml(self) -> str:
        """The resolved config, every default written out."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, width=100)


def _model_at(loc: tuple):
    """The pydantic model class that holds the key at `loc` (for suggestions)."""
    model = RunSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        candidates = [annotation, *(inner or ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return None
    return model


def _pydantic_problem(doc: Document, error: dict) -> Problem:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    path = format_path(loc)
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx", {})
    if kind == "extra_forbidden":
        model = _model_at(loc)
        hint = did_you_mean(str(loc[-1]), model.model_fields) if model else ""
        return Problem(doc.where(loc, key=True), path, f"unknown key{hint}")
    where = doc.where(loc)
    if kind == "missing":
        parent = format_path(loc[:-1])
        what = "section" if len(loc) == 1 else "key"
        place = f" in {parent}" if parent else ""
        return Problem(where, "", f"missing required {what} '{loc[-1]}'{place}")
    got = describe_value(value)
    expected = {
        "int_type": "an integer",
        "float_type": "a number",
        "bool_type": "true or false",
        "string_type": "a string",
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
        "list_type": "a list",
    }.get(kind)
    if kind == "int_from_float":
        expected = "an integer"
    if expected:
        return Problem(where, path, f"expected {expected}, got {got}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {
            "greater_than": ">",
            "greater_than_equal": ">=",
            "less_than": "<",
            "less_than_equal": "<=",
        }[kind]
        bound = ctx.get("gt", ctx.get("ge", ctx.get("lt", ctx.get("le"))))
        return Problem(where, path, f"must be {sign} {bound}, got {got}")
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        got = repr(value) if isinstance(value, str) else got
        return Problem(where, path, f"must be one of {', '.join(allowed)}; got {got}{hint}")
    message = error["msg"].removeprefix("Value error, ")
    return Problem(where, path, message)


_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "mapping": "a mapping",
    "null": "null",
}


def _type_words(type_name: str) -> str:
    return " or ".join(_TYPE_WORDS.get(part, part) for part in type_name.split("|"))


class _Checker:
    """The checks a schema cannot express: names and arguments against registries."""

    def __init__(self, doc: Document, callbacks: Registry):
        self.doc = doc
        self.callbacks = callbacks
        self.problems: list[Problem] = []

    def add(self, path: tuple, message: str, *, key: bool = False) -> None:
        self.problems.append(Problem(self.doc.where(path, key=key), format_path(path), message))

    def arguments(self, path: tuple, entry, args: dict) -> None:
        """Unknown, missing and ill-typed arguments of a registered entry."""
        known = [a.name for a in entry.arguments if a.name not in INJECTED]
        for key, value in args.items():
            argument = entry.argument(key)
            if argument is None or key in INJECTED:
                if not entry.accepts_extra:
                    self.add(
                        path + (key,),
                        f"unknown argument of {entry.name}{did_you_mean(key, known)}",
                        key=True,
                    )
                continue
            if argument.type == "schedule":
                for sub, message in schedule_problems(value):
                    self.add(path + (key,) + sub, message)
            elif not type_accepts(argument.type, value):
                self.add(
                    path + (key,),
                    f"expected {_type_words(argument.type)}, got {describe_value(value)}",
                )
            elif argument.choices and value not in argument.choices:
                self.add(
                    path + (key,),
                    f"must be one of {', '.join(argument.choices)}; got {describe_value(value)}",
                )
            if key in PATH_ARGUMENTS and isinstance(value, str):
                self.run_relative_path(path + (key,), value)
        for argument in entry.arguments:
            if argument.required and argument.name not in INJECTED and argument.name not in args:
                self.add(path, f"{entry.name} needs the argument '{argument.name}'")

    def run_relative_path(self, path: tuple, value: str) -> None:
        relative = PurePosixPath(value)
        if not relative.is_absolute() and ".." in relative.parts:
            self.add(
                path,
                f"'{value}' leaves the run directory; write a path inside it, or an absolute one",
            )

    def callback(self, index: int, item) -> None:
        path = ("callbacks", index)
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return  # the schema reports it
        name = item["name"]
        if ":" in name or ("." in name and name not in self.callbacks):
            return  # a plugin: checked against the allow-list, described once loaded
        if name not in self.callbacks:
            self.add(
                path + ("name",),
                f"unknown callback '{name}'{did_you_mean(name, self.callbacks.names())}",
            )
            return
        entry = self.callbacks.get(name)
        if entry.unavailable:
            self.add(path + ("name",), f"{name} cannot be used from a config: {entry.unavailable}")
            return
        args = item.get("args", {})
        if isinstance(args, dict):
            self.arguments(path + ("args",), entry, args)

    def model(self, section) -> None:
        if not isinstance(section, dict) or not isinstance(section.get("name"), str):
            return
        name = section["name"]
        if name not in MODELS:
            self.add(
                ("model", "name"), f"unknown model '{name}'{did_you_mean(name, MODELS.names())}"
            )
        elif isinstance(section.get("args"), dict):
            self.arguments(("model", "args"), MODELS.get(name), section["args"])

    def optimizer(self, section) -> None:
        if not isinstance(section, dict) or not isinstance(section.get("optimizer"), dict):
            return
        optimizer = section["optimizer"]
        name, args = optimizer.get("name"), optimizer.get("args")
        path = ("compile", "optimizer")
        if isinstance(name, str) and name.lower() not in OPTIMIZERS:
            self.add(
                path + ("name",),
                f"unknown optimizer '{name}'{did_you_mean(name.lower(), OPTIMIZERS)}",
            )
        if isinstance(args, dict) and "lr" in args:
            self.add(
                path + ("args", "lr"),
                "'lr' was removed from Keras optimizers; write learning_rate",
                key=True,
            )
        rate = args.get("learning_rate") if isinstance(args, dict) else None
        if rate is not None and not (type_accepts("float", rate) and rate > 0):
            self.add(
                path + ("args", "learning_rate"),
                f"must be a number > 0, got {describe_value(rate)}",
            )

    def data(self, section) -> None:
        if not isinstance(section, dict):
            return
        source, path = section.get("source", "auto"), section.get("path")
        if source == "path":
            if not isinstance(path, str):
                self.add(
                    ("data", "source"),
                    "source: path needs data.path (an .npz file or a folder of IDX files)",
                )
            elif not Path(path).exists():
                self.add(("data", "path"), f"no such file or folder: {path}")
        elif path is not None and source in ("auto", "keras", "bundled"):
            self.add(
                ("data", "path"), f"data.path is only read with source: path (source is {source})"
            )

    def name(self, value) -> None:
        if isinstance(value, str) and not RUN_NAME.match(value):
            self.add(
                ("name",),
                f"'{value}' cannot name a run folder: use letters, digits, "
                "'.', '_' and '-', starting with a letter or digit",
            )

    def distribute(self, data: dict) -> None:
        strategy = (data.get("distribute") or {}).get("strategy", "default")
        steps = (data.get("fit") or {}).get("steps_per_execution", "auto")
        if strategy != "default" and steps not in ("auto", 1):
            self.add(
                ("fit", "steps_per_execution"),
                f"must be auto or 1 with distribute.strategy "
                f"{strategy} (Keras's multi-step loop fails under tf.distribute)",
            )

    def run(self, data: dict) -> list[Problem]:
        self.name(data.get("name"))
        if isinstance(data.get("distribute"), dict) and isinstance(data.get("fit"), dict):
            self.distribute(data)
        self.data(data.get("data"))
        self.model(data.get("model"))
        self.optimizer(data.get("compile"))
        callbacks = data.get("callbacks")
        if isinstance(callbacks, list):
            for index, item in enumerate(callbacks):
                self.callback(index, item)
        return self.problems


def _normalise(doc: Document) -> None:
    """Shorthands to their long form, keeping positions: `- EarlyStopping` → `{name: ...}`."""
    data = doc.data
    callbacks = data.get("callbacks")
    if isinstance(callbacks, list):
        for index, item in enumerate(callbacks):
            if isinstance(item, str):
                callbacks[index] = {"name": item}
                doc.marks[("callbacks", index, "name")] = doc.marks[("callbacks", index)]
    compile_section = data.get("compile")
    if isinstance(compile_section, dict) and isinstance(compile_section.get("optimizer"), str):
        compile_section["optimizer"] = {"name": compile_section["optimizer"]}
        path = ("compile", "optimizer")
        doc.marks[path + ("name",)] = doc.marks[path]


def _split_override(raw: str) -> tuple[list, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise ConfigError([Problem(f"--set {raw}", "", "expected KEY=VALUE, e.g. fit.epochs=5")])
    parts = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    if any(p == "" for p in parts):
        raise ConfigError([Problem(f"--set {raw}", "", f"'{key}' is not a dotted key path")])
    return parts, value


def apply_override(doc: Document, raw: str) -> None:
    """Apply one `--set dotted.path=value`; the value is read as YAML."""
    parts, text = _split_override(raw)
    where = f"--set {raw}"
    value_doc = load_yaml(text, where)
    node = doc.data
    for depth, part in enumerate(parts[:-1]):
        here = format_path(tuple(parts[: depth + 1]))
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise ConfigError(
                    [Problem(where, here, f"no item {part} (the list has {len(node)})")]
                )
            node = node[part]
        elif isinstance(node, dict):
            key = str(part) if isinstance(part, int) else part
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
        else:
            raise ConfigError(
                [Problem(where, here, f"cannot set a key inside {describe_value(node)}")]
            )
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            raise ConfigError(
                [
                    Problem(
                        where,
                        format_path(tuple(parts)),
                        f"no item {last} (the list has {len(node)})",
                    )
                ]
            )
    elif isinstance(node, dict):
        last = str(last) if isinstance(last, int) else last
    else:
        raise ConfigError(
            [
                Problem(
                    where,
                    format_path(tuple(parts[:-1])),
                    f"cannot set a key inside {describe_value(node)}",
                )
            ]
        )
    node[last] = value_doc.data
    path = tuple(parts[:-1]) + (last,)
    for table in (doc.marks, doc.key_marks):
        for key in [k for k in table if k[: len(path)] == path]:
            del table[key]
    for sub in value_doc.marks:
        doc.marks[path + sub] = where
    doc.key_marks[path] = where


def _read_text(path: Path) -> str:
    where = str(path)
    if not path.exists():
        raise ConfigError([Problem(where, "", "no such file")])
    if path.is_dir():
        raise ConfigError([Problem(where, "", "is a directory, not a config file")])
    if not path.is_file():
        raise ConfigError([Problem(where, "", "is not a regular file")])
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            [
                Problem(
                    where,
                    "",
                    f"larger than {MAX_CONFIG_BYTES} bytes; a config is a small text file",
                )
            ]
        )
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise ConfigError(
            [
                Problem(
                    f"{where}:{line}",
                    "",
                    f"not UTF-8 text (byte 0x{path.read_bytes()[error.start]:02x})",
                )
            ]
        ) from None
    except OSError as error:
        raise ConfigError([Problem(where, "", f"cannot read ({error.strerror})")]) from None


def _sorted_capped(problems: list[Problem]) -> list[Problem]:
    def order(problem: Problem):
        numbers = re.findall(r":(\d+):(\d+)$", problem.where)
        return (0, int(numbers[0][0]), int(numbers[0][1])) if numbers else (1, 0, 0)

    unique = list(dict.fromkeys(problems))
    unique.sort(key=order)
    if len(unique) > MAX_PROBLEMS:
        hidden = len(unique) - MAX_PROBLEMS
        unique = unique[:MAX_PROBLEMS] + [
            Problem(unique[0].where.split(":")[0], "", f"... and {hidden} more problems")
        ]
    return unique


def _with_phases(spec: RunSpec, callbacks: Registry) -> RunSpec:
    resolved = []
    for item in spec.callbacks:
        if item.phases is None:
            phases = list(callbacks.get(item.name).phases) if item.name in callbacks else ["fit"]
            item = item.model_copy(update={"phases": phases})
        resolved.append(item)
    return spec.model_copy(update={"callbacks": resolved})


def validate(doc: Document, *, default_name: str = "run") -> RunSpec:
    """Validate a loaded document into a `RunSpec`; raise `ConfigError` listing every problem."""
    if doc.data is None:
        raise ConfigError(
            [
                Problem(
                    doc.where(()),
                    "",
                    "the config is empty; it needs at least model:, compile: and fit:",
                )
            ]
        )
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [
                Problem(
                    doc.where(()),
                    "",
                    "the config must be a mapping of sections "
                    f"(model:, compile:, fit:, ...), not {describe_value(doc.data)}",
                )
            ]
        )
    callbacks = callback_registry()
    problems = []
    spec = None
    try:
        spec = RunSpec.model_validate(doc.data)
    except ValidationError as error:
        problems += [_pydantic_problem(doc, e) for e in error.errors()]
    problems += _Checker(doc, callbacks).run(doc.data)
    if problems:
        raise ConfigError(_sorted_capped(problems))
    if spec.name is None:
        spec = spec.model_copy(update={"name": default_name})
    return _with_phases(spec, callbacks)


def load_document(path: str | Path, overrides: list[str] = ()) -> Document:
    """Read a config file and apply `--set` overrides, keeping positions."""
    path = Path(path)
    doc = load_yaml(_read_text(path), str(path))
    if isinstance(doc.data, dict):
        _normalise(doc)
        for raw in overrides:
            apply_override(doc, raw)
        _normalise(doc)
    return doc


def load_config(path: str | Path, overrides: list[str] = ()) -> RunSpec:
    """Load, override and validate a config file.

    Args:
        path: the YAML file.
        overrides: `KEY=VALUE` strings, as given to `--set`.

    Raises:
        ConfigError: every problem found, one per line.
    """
    doc = load_document(path, overrides)
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", Path(path).stem).strip("-._") or "run"
    return validate(doc, default_name=stem.replace("_", "-"))
