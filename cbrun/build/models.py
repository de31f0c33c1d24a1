"""Model builders a config names under `model.name`, and compiling from the config.

Each builder takes the data's `input_shape` and `num_classes` (given by the
runner) plus the config's `model.args`. Keras is imported inside the builders.
Their names and arguments are recorded in the catalog's table
(`python -m cbrun.build.signatures --write`), which the config is checked against.
"""

from __future__ import annotations

from pathlib import Path

from cbrun.backend import load_keras
from cbrun.catalog.backbones import is_backbone
from cbrun.catalog.models import INJECTED, OPTIMIZERS, installed_builders
from cbrun.catalog.registry import Registry
from cbrun.errors import UsageError

MODELS = Registry("model")  # model.name → a function returning an uncompiled keras.Model


def _input(keras, input_shape):
    return keras.Input(shape=tuple(input_shape))


@MODELS.register()
def linear(input_shape, num_classes):
    """The guide's model: one linear unit on the flattened image (regression on the label)."""
    keras = load_keras()

    inputs = _input(keras, input_shape)
    flat = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    output = keras.layers.Dense(1, activation="linear", dtype="float32")(flat)
    return keras.Model(inputs, output, name="linear")


@MODELS.register()
def mlp(
    input_shape, num_classes, units: list = (64,), activation: str = "relu", dropout: float = 0.0
):
    """The blog's classifier: Dense layers of `units`, then a softmax over the classes.

    Args:
        units: the hidden layer sizes. Defaults to `[64]`.
        activation: the hidden activation. Defaults to `"relu"`.
        dropout: dropout after each hidden layer. Defaults to `0.0`.
    """
    keras = load_keras()

    inputs = _input(keras, input_shape)
    x = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for size in units:
        x = keras.layers.Dense(size, activation=activation)(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    # float32 under a mixed dtype_policy too: a softmax in bfloat16 loses the small classes.
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mlp")


@MODELS.register()
def cnn(
    input_shape, num_classes, filters: list = (32, 64), dense: int = 128, dropout: float = 0.25
):
    """A small conv net: 3x3 conv + 2x2 max-pool per entry of `filters`, then dense.

    Needs `data.flatten: false` (28x28x1 images).

    Args:
        filters: conv filters per block. Defaults to `[32, 64]`.
        dense: units of the dense layer. Defaults to `128`.
        dropout: dropout before the output. Defaults to `0.25`.
    """
    keras = load_keras()

    if len(input_shape) != 3:
        raise UsageError("model cnn needs images, not flat vectors: set data.flatten: false")
    inputs = _input(keras, input_shape)
    x = inputs
    for count in filters:
        x = keras.layers.Conv2D(count, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense, activation="relu")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    # float32 under a mixed dtype_policy too: a softmax in bfloat16 loses the small classes.
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="cnn")


@MODELS.register()
def sequential(input_shape, num_classes, layers: list = ()):
    """Any stack of Keras layers, each `{name: Dense, args: {units: 10}}` or a layer name.

    `Lambda` layers are refused: they hold Python code, which YAML cannot carry safely.

    Args:
        layers: the layers, in order. The last one is the output.
    """
    keras = load_keras()

    if not layers:
        raise UsageError("model.args.layers: give at least one layer")
    stack = [_input(keras, input_shape)]
    for index, layer in enumerate(layers):
        spec = {"name": layer} if isinstance(layer, str) else dict(layer)
        where = f"model.args.layers[{index}]"
        if not isinstance(spec.get("name"), str) or set(spec) - {"name", "args"}:
            raise UsageError(f"{where}: each layer is a name or {{name: ..., args: {{...}}}}")
        name = spec["name"]
        if name == "Lambda":
            raise UsageError(f"{where}: Lambda layers hold Python code and are refused")
        cls = getattr(keras.layers, name, None)
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            from cbrun.catalog.registry import did_you_mean

            known = [n for n in dir(keras.layers) if n[:1].isupper()]
            raise UsageError(f"{where}: unknown Keras layer '{name}'{did_you_mean(name, known)}")
        try:
            stack.append(cls(**(spec.get("args") or {})))
        except (TypeError, ValueError) as error:
            raise UsageError(f"{where}: {name}: {error}") from None
    return keras.Sequential(stack, name="sequential")


def build_optimizer(name: str, args: dict):
    """A Keras optimizer from its config name and arguments; a `learning_rate` given as
    `{name, args}` is a `keras.optimizers.schedules` class."""
    keras = load_keras()

    cls = getattr(keras.optimizers, OPTIMIZERS[name.lower()])
    rate = args.get("learning_rate")
    if isinstance(rate, dict):
        schedule = getattr(keras.optimizers.schedules, rate["name"])
        args = {**args, "learning_rate": schedule(**rate.get("args", {}))}
    try:
        return cls(**args)
    except (TypeError, ValueError) as error:
        raise UsageError(f"compile.optimizer: {cls.__name__}: {error}") from None


def build_model(spec, input_shape, num_classes: int | None = 10, search_paths=(), say=None):
    """The uncompiled Keras model a `RunSpec` describes, and its optimizer.

    `model.name` is a built-in builder, or a plugin (`my_models:build_net`, allowed
    under `plugins:` like a plugin callback): it gets `input_shape` and `num_classes`
    and its arguments, checked against its signature, and must return an uncompiled
    `keras.Model`.
    """
    name, args = spec.model.name, dict(spec.model.args)
    if is_backbone(name):
        from cbrun.build.backbones import build_backbone

        model = build_backbone(spec, input_shape, num_classes, say)
        optimizer = build_optimizer(spec.compile.optimizer.name, spec.compile.optimizer.args)
        return model, optimizer
    builder = MODELS.get(name).load() if name in MODELS else _plugin_builder(spec, search_paths)
    from cbrun.build.plugin_failures import explained_failures

    try:
        with explained_failures([builder]):
            model = builder(input_shape=tuple(input_shape), num_classes=num_classes, **args)
    except (TypeError, ValueError) as error:
        raise UsageError(f"model: {name}: {error}") from None
    _ensure_uncompiled_model(model, name)
    if spec.model.init_from:
        _start_from(model, Path(spec.model.init_from) / "model.keras")
    optimizer = build_optimizer(spec.compile.optimizer.name, spec.compile.optimizer.args)
    return model, optimizer


def _start_from(model, path: Path) -> None:
    """Fine-tuning: the weights of another run's model (safe mode), variable for variable."""
    keras = load_keras()
    try:
        source = keras.models.load_model(path, safe_mode=True, compile=False)
        model.set_weights(source.get_weights())
    except (ValueError, OSError) as error:
        raise UsageError(f"model.init_from: {path}: its weights do not fit ({error})") from None


def _plugin_builder(spec, search_paths):
    from cbrun.build.plugins import check_plugin_arguments, ensure_builder, load_plugin

    name, installed = spec.model.name, installed_builders()
    if name in installed:
        module = installed[name].partition(":")[0]
        builder = load_plugin(installed[name], {module}, check=ensure_builder)
    else:
        builder = load_plugin(name, set(spec.plugins), list(search_paths), check=ensure_builder)
    check_plugin_arguments(builder, dict(spec.model.args), "model", skip=INJECTED)
    return builder


def _ensure_uncompiled_model(model, name: str) -> None:
    keras = load_keras()

    if not isinstance(model, keras.Model):
        raise UsageError(f"model: {name} returned {type(model).__name__}, not a keras.Model")
    if getattr(model, "compiled", False):
        raise UsageError(
            f"model: {name} returned a compiled model; cbrun compiles it from compile:"
        )


def compile_model(spec, model, optimizer, steps_per_execution: int = 1) -> None:
    """Compile with the config's loss and metrics; Keras's refusals become one line."""
    keras = load_keras()

    def named(module, item):
        """A name as Keras takes it, or `{name, args}` as an instance of that class."""
        return item if isinstance(item, str) else getattr(module, item.name)(**item.args)

    try:
        model.compile(
            optimizer=optimizer,
            loss=named(keras.losses, spec.compile.loss),
            metrics=[named(keras.metrics, m) for m in spec.compile.metrics],
            jit_compile=spec.compile.jit_compile,
            steps_per_execution=steps_per_execution,
        )
    except (TypeError, ValueError) as error:
        raise UsageError(f"compile: {error}") from None
