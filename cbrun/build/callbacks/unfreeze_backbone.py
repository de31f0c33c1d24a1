"""Fine-tuning as a callback: unfreeze a backbone's top layers at an epoch and recompile."""

from __future__ import annotations

from cbrun.backend import load_keras
from cbrun.output.logsink import PrintsLines

keras = load_keras()

BACKBONE_LAYER = "backbone"  # the nested model cbrun's backbones are (build/backbones.py)


class UnfreezeBackbone(PrintsLines, keras.callbacks.Callback):
    """Unfreezes the top layers of the model's backbone at an epoch, to fine-tune.

    The second step of the Keras guide "Transfer learning & fine-tuning": a head trained
    on a frozen backbone, then the backbone's top `layers` trainable at `at_epoch`, with
    a lower learning rate. The model is recompiled as Keras requires (a new optimizer of
    the same kind, whose state starts with the unfrozen variables); the line it prints
    says what it did. A resumed run lands in the same state: a checkpoint taken after the
    unfreeze is restored into an unfrozen, recompiled model (`prepare_model`).

    Works on any model with a nested model layer named `backbone`, as a
    `keras.applications` backbone named in `model.name` is.

    Args:
        at_epoch: the epoch (counted from 1, as the console counts) at whose start the
            backbone is unfrozen.
        layers: how many of the backbone's top layers become trainable, or `"all"`.
            Defaults to `"all"`.
        learning_rate: the learning rate from then on; null keeps the current one.
            Defaults to `None`.
        keep_batchnorm_frozen: leave BatchNormalization layers frozen, as the guide
            advises (their statistics are not relearned on a small dataset).
            Defaults to `True`.

    Example:

    ```yaml
    model: {name: MobileNetV3Small, weights: imagenet, freeze: true}
    callbacks:
      - name: UnfreezeBackbone
        args: {at_epoch: 4, layers: 20, learning_rate: 1.0e-5}
    ```
    """

    says_its_decisions = True  # its line names the new learning rate: no second line

    def __init__(self, at_epoch, layers="all", learning_rate=None, keep_batchnorm_frozen=True):
        super().__init__()
        if isinstance(at_epoch, bool) or not isinstance(at_epoch, int) or at_epoch < 1:
            raise ValueError(f"at_epoch must be an epoch >= 1. Received: at_epoch={at_epoch!r}")
        whole = isinstance(layers, int) and not isinstance(layers, bool)
        if layers != "all" and not (whole and layers >= 1):
            raise ValueError(f'layers must be a count >= 1 or "all". Received: layers={layers!r}')
        if learning_rate is not None and not (
            isinstance(learning_rate, (int, float)) and 0 < learning_rate < 1e6
        ):
            raise ValueError(
                f"learning_rate must be > 0. Received: learning_rate={learning_rate!r}"
            )
        self.at_epoch = at_epoch
        self.layers = layers
        self.learning_rate = learning_rate
        self.keep_batchnorm_frozen = keep_batchnorm_frozen
        self.unfrozen = False

    def on_train_begin(self, logs=None):
        self.unfrozen = False  # a resumed run's state is set back after this (set_state)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.at_epoch and not self.unfrozen:
            count = self._unfreeze(self.model)
            self.model.make_train_function(force=True)  # fit calls it from the next step on
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.say(
                f"epoch {epoch + 1}: UnfreezeBackbone made {count} backbone layers trainable "
                f"and recompiled (learning rate {rate:g})"
            )

    def prepare_model(self, model, state: dict) -> None:
        """Before a resumed run's checkpoint is restored: unfreeze as the run had, so the
        checkpoint's optimizer state meets the same variables."""
        if state.get("unfrozen"):
            self._unfreeze(model)

    def _unfreeze(self, model) -> int:
        try:
            backbone = model.get_layer(BACKBONE_LAYER)
        except ValueError:
            raise ValueError(
                "UnfreezeBackbone needs a model with a backbone (a layer named 'backbone'): "
                "name a keras.applications architecture in model.name"
            ) from None
        backbone.trainable = True
        chosen = backbone.layers if self.layers == "all" else backbone.layers[-self.layers :]
        keep = keras.layers.BatchNormalization if self.keep_batchnorm_frozen else ()
        count = 0
        for layer in backbone.layers:
            layer.trainable = layer in chosen and not (keep and isinstance(layer, keep))
            count += bool(layer.trainable and layer.weights)
        self._recompile(model)
        self.unfrozen = True
        return count

    def _recompile(self, model) -> None:
        """Compile again with a new optimizer of the same kind (the learning rate as asked),
        keeping the loss, metrics and steps per execution."""
        old = model.optimizer
        config = old.get_config()
        if self.learning_rate is not None:
            config["learning_rate"] = float(self.learning_rate)
        else:
            config["learning_rate"] = float(keras.ops.convert_to_numpy(old.learning_rate))
        compiled = model.get_compile_config()
        compiled["optimizer"] = keras.optimizers.serialize(type(old).from_config(config))
        model.compile_from_config(compiled)

    def get_state(self):
        return {"unfrozen": self.unfrozen}

    def set_state(self, state):
        self.unfrozen = bool(state["unfrozen"])
