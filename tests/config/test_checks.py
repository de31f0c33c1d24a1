"""Broken configs: each gets its exact one-line message, exit 2, and nothing written."""

from __future__ import annotations

import sys

import pytest

from cbrun.config.loading import load_config
from cbrun.errors import ConfigError

HEAD = """\
model: {name: linear}
compile: {loss: mean_squared_error}
"""
FIT = "fit: {epochs: 1}\n"
MLP = "model: {name: mlp}\n"
VAL = "data: {validation_split: 0.1}\n"

# (id, YAML text, the expected stderr, one `Error:` line per problem; F is the file).
BROKEN = [
    ("empty file", "", ["F:1:1: the config is empty; it needs at least model:, compile: and fit:"]),
    (
        "only a comment",
        "# nothing\n",
        ["F:1:1: the config is empty; it needs at least model:, compile: and fit:"],
    ),
    (
        "unclosed bracket",
        HEAD + "fit: {epochs: 1\n",
        [
            "F:4:1: invalid YAML: expected ',' or '}', but got '<stream end>' "
            "(while parsing a flow mapping)"
        ],
    ),
    (
        "tab indentation",
        HEAD + "fit:\n\tepochs: 1\n",
        ["F:4:1: invalid YAML: a tab character; YAML indents with spaces only"],
    ),
    (
        "top level a list",
        "- model\n- fit\n",
        [
            "F:1:1: the config must be a mapping of sections (model:, compile:, fit:, ...), "
            "not a list"
        ],
    ),
    (
        "top level a scalar",
        "hello\n",
        [
            "F:1:1: the config must be a mapping of sections (model:, compile:, fit:, ...), "
            "not 'hello' (a string)"
        ],
    ),
    (
        "duplicate key",
        HEAD + FIT + "fit: {epochs: 2}\n",
        ["F:4:1: fit: duplicate key (first defined at line 3)"],
    ),
    (
        "duplicate nested key",
        HEAD + "fit:\n  epochs: 1\n  epochs: 2\n",
        ["F:5:3: fit.epochs: duplicate key (first defined at line 4)"],
    ),
    (
        "unknown top-level key",
        HEAD + FIT + "callback: []\n",
        ["F:4:1: callback: unknown key (did you mean 'callbacks'?)"],
    ),
    (
        "unknown nested key",
        HEAD + "fit: {epochs: 1, batchsize: 8}\n",
        ["F:3:18: fit.batchsize: unknown key (did you mean 'batch_size'?)"],
    ),
    (
        "missing section",
        "model: {name: linear}\n" + FIT,
        ["F:1:1: missing required section 'compile'"],
    ),
    (
        "missing nested key",
        "model: {args: {}}\ncompile: {loss: mse}\n" + FIT,
        ["F:1:8: missing required key 'name' in model"],
    ),
    ("epochs 0", HEAD + "fit: {epochs: 0}\n", ["F:3:15: fit.epochs: must be > 0, got 0"]),
    ("epochs -1", HEAD + "fit: {epochs: -1}\n", ["F:3:15: fit.epochs: must be > 0, got -1"]),
    (
        "epochs 2.5",
        HEAD + "fit: {epochs: 2.5}\n",
        ["F:3:15: fit.epochs: expected an integer, got 2.5"],
    ),
    (
        "epochs true",
        HEAD + "fit: {epochs: true}\n",
        ["F:3:15: fit.epochs: expected an integer, got true"],
    ),
    (
        "epochs string",
        HEAD + 'fit: {epochs: "10"}\n',
        ["F:3:15: fit.epochs: expected an integer, got '10' (a string)"],
    ),
    (
        "epochs octal-looking",
        HEAD + "fit: {epochs: 010}\n",
        [
            "F:3:15: fit.epochs: '010' has a leading zero, which YAML 1.1 reads as octal; "
            "write 10 (or 0o10 for octal)"
        ],
    ),
    (
        "batch_size 0",
        HEAD + "fit: {batch_size: 0}\n",
        ["F:3:19: fit.batch_size: must be > 0, got 0"],
    ),
    (
        "validation_split 1.5",
        HEAD + FIT + "data: {validation_split: 1.5}\n",
        ["F:4:26: data.validation_split: must be < 1.0, got 1.5"],
    ),
    (
        "bad source",
        HEAD + FIT + "data: {source: bundeld}\n",
        [
            "F:4:16: data.source: must be one of auto, keras, bundled, path; got 'bundeld' "
            "(did you mean 'bundled'?)"
        ],
    ),
    (
        "unknown callback",
        HEAD + FIT + "callbacks: [EarlyStoping]\n",
        [
            "F:4:13: callbacks[0].name: unknown callback 'EarlyStoping' "
            "(did you mean 'EarlyStopping'?)"
        ],
    ),
    (
        "unknown callback argument",
        HEAD + FIT + "callbacks:\n  - name: EarlyStopping\n    args: {patiense: 2}\n",
        [
            "F:6:12: callbacks[0].args.patiense: unknown argument of EarlyStopping "
            "(did you mean 'patience'?)"
        ],
    ),
    (
        "callback argument type",
        HEAD + FIT + "callbacks:\n  - name: EarlyStopping\n    args: {patience: two}\n",
        ["F:6:22: callbacks[0].args.patience: expected an integer, got 'two' (a string)"],
    ),
    (
        "callback argument choice",
        HEAD + FIT + "callbacks:\n  - name: EarlyStopping\n    args: {mode: down}\n",
        ["F:6:18: callbacks[0].args.mode: must be one of auto, min, max; got 'down' (a string)"],
    ),
    (
        "missing callback argument",
        HEAD + FIT + "callbacks: [CSVLogger]\n",
        ["F:4:13: callbacks[0].args: CSVLogger needs the argument 'filename'"],
    ),
    (
        "args not a mapping",
        HEAD + FIT + "callbacks:\n  - {name: EarlyStopping, args: [1]}\n",
        ["F:5:33: callbacks[0].args: expected a mapping, got a list"],
    ),
    (
        "callbacks not a list",
        HEAD + FIT + "callbacks: {name: EarlyStopping}\n",
        ["F:4:12: callbacks: expected a list, got a mapping"],
    ),
    (
        "unavailable callback",
        HEAD + FIT + "callbacks: [LambdaCallback]\n",
        [
            "F:4:13: callbacks[0].name: LambdaCallback cannot be used from a config: its arguments "
            "are Python functions, which YAML cannot hold; write a plugin callback instead "
            "(see examples/)"
        ],
    ),
    (
        "bad phase",
        HEAD + FIT + "callbacks:\n  - {name: BatchTimestamps, phases: [train]}\n",
        ["F:5:38: callbacks[0].phases[0]: must be one of fit, evaluate, predict; got 'train'"],
    ),
    (
        "path escaping the run",
        HEAD + FIT + "callbacks:\n  - {name: CSVLogger, args: {filename: ../../log.csv}}\n",
        [
            "F:5:40: callbacks[0].args.filename: '../../log.csv' leaves the run directory; "
            "write a path inside it, or an absolute one"
        ],
    ),
    (
        "bad schedule",
        HEAD
        + FIT
        + "callbacks:\n  - {name: LearningRateScheduler, args: {schedule: {type: step}}}\n",
        [
            "F:5:52: callbacks[0].args.schedule: a step schedule needs 'every': a positive "
            "integer (epochs)",
            "F:5:52: callbacks[0].args.schedule: a step schedule needs 'factor': "
            "a number in (0, 1]",
        ],
    ),
    (
        "unknown model",
        "model: {name: linaer}\ncompile: {loss: mse}\n" + FIT,
        ["F:1:15: model.name: unknown model 'linaer' (did you mean 'linear'?)"],
    ),
    (
        "unknown model argument",
        "model: {name: mlp, args: {unit: [8]}}\ncompile: {loss: mse}\n" + FIT,
        ["F:1:27: model.args.unit: unknown argument of mlp (did you mean 'units'?)"],
    ),
    (
        "removed lr argument",
        "model: {name: linear}\n"
        "compile: {loss: mse, optimizer: {name: sgd, args: {lr: 0.1}}}\n" + FIT,
        [
            "F:2:52: compile.optimizer.args.lr: 'lr' was removed from Keras optimizers; "
            "write learning_rate"
        ],
    ),
    (
        "unknown optimizer",
        "model: {name: linear}\ncompile: {loss: mse, optimizer: adamm}\n" + FIT,
        ["F:2:33: compile.optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?)"],
    ),
    (
        "python tag",
        HEAD + FIT + "name: !!python/object/apply:os.system ['touch PWNED']\n",
        ["F:4:7: name: unsupported tag !!python/object/apply:os.system"],
    ),
    ("unknown local tag", HEAD + FIT + "seed: !env SEED\n", ["F:4:7: seed: unsupported tag !env"]),
    (
        "merge key",
        "base: &b {epochs: 1}\n" + HEAD + "fit:\n  <<: *b\n",
        ["F:5:3: fit: merge keys (<<) are not supported"],
    ),
    (
        "missing data path",
        HEAD + FIT + "data: {source: path, path: nowhere/mnist.npz}\n",
        ["F:4:28: data.path: no such file or folder: nowhere/mnist.npz"],
    ),
    (
        "a path with another source",
        HEAD + FIT + "data: {source: bundled, path: x.npz}\n",
        ["F:4:31: data.path: data.path is only read with source: path (source is bundled)"],
    ),
    (
        "bad run name",
        HEAD + FIT + "name: ../escape\n",
        [
            "F:4:7: name: '../escape' cannot name a run folder: use letters, digits, '.', '_' and "
            "'-', starting with a letter or digit"
        ],
    ),
    (
        "several problems at once",
        HEAD + "fit: {epochs: 0, batch_size: -2}\nseed: x\n",
        [
            "F:3:15: fit.epochs: must be > 0, got 0",
            "F:3:30: fit.batch_size: must be > 0, got -2",
            "F:4:7: seed: expected an integer, got 'x' (a string)",
        ],
    ),
]

# Keras-level mistakes: names and arguments of losses, metrics, optimizers, schedules,
# layers, builders and callbacks, and the rules between fields (cbrun/config/rules.py).
KERAS_LEVEL = [
    (
        "loss typo",
        "model: {name: linear}\n" + "compile: {loss: mean_squared_eror}\n" + FIT,
        [
            "F:2:17: compile.loss: unknown loss 'mean_squared_eror' (did you mean 'mean_squared_error'?)",
        ],
    ),
    (
        "loss class unknown",
        "model: {name: linear}\n" + "compile: {loss: {name: MeanSquaredErorr}}\n" + FIT,
        [
            "F:2:24: compile.loss.name: unknown loss 'MeanSquaredErorr' (did you mean 'MeanSquaredError'?)",
        ],
    ),
    (
        "loss class argument typo",
        MLP
        + "compile: {loss: {name: SparseCategoricalCrossentropy, args: {from_logit: true}}}\n"
        + FIT,
        [
            "F:2:62: compile.loss.args.from_logit: unknown argument of SparseCategoricalCrossentropy (did you mean 'from_logits'?)",
        ],
    ),
    (
        "loss class argument type",
        MLP
        + "compile: {loss: {name: SparseCategoricalCrossentropy, args: {from_logits: 'yes'}}}\n"
        + FIT,
        [
            "F:2:75: compile.loss.args.from_logits: expected true or false, got 'yes' (a string)",
        ],
    ),
    (
        "metric typo",
        "model: {name: linear}\n" + "compile: {loss: mse, metrics: [maee]}\n" + FIT,
        [
            "F:2:32: compile.metrics[0]: unknown metric 'maee' (did you mean 'mae'?)",
        ],
    ),
    (
        "metric class argument",
        MLP
        + "compile: {loss: sparse_categorical_crossentropy, metrics: [{name: SparseTopKCategoricalAccuracy, args: {kk: 3}}]}\n"
        + FIT,
        [
            "F:2:105: compile.metrics[0].args.kk: unknown argument of SparseTopKCategoricalAccuracy (did you mean 'k'?)",
        ],
    ),
    (
        "optimizer argument type",
        "model: {name: linear}\n"
        + "compile: {loss: mse, optimizer: {name: adam, args: {beta_1: high}}}\n"
        + FIT,
        [
            "F:2:61: compile.optimizer.args.beta_1: expected a number, got 'high' (a string)",
        ],
    ),
    (
        "optimizer argument typo",
        "model: {name: linear}\n"
        + "compile: {loss: mse, optimizer: {name: rmsprop, args: {learning_rat: 0.1}}}\n"
        + FIT,
        [
            "F:2:56: compile.optimizer.args.learning_rat: unknown argument of RMSprop (did you mean 'learning_rate'?)",
        ],
    ),
    (
        "optimizer argument bool for number",
        "model: {name: linear}\n"
        + "compile: {loss: mse, optimizer: {name: sgd, args: {momentum: true}}}\n"
        + FIT,
        [
            "F:2:62: compile.optimizer.args.momentum: expected a number, got true",
        ],
    ),
    (
        "optimizer decay removed",
        "model: {name: linear}\n"
        + "compile: {loss: mse, optimizer: {name: sgd, args: {decay: 0.01}}}\n"
        + FIT,
        [
            "F:2:52: compile.optimizer.args.decay: 'decay' was removed from Keras optimizers; give learning_rate a schedule",
        ],
    ),
    (
        "schedule unknown",
        "model: {name: linear}\n"
        + "compile: {loss: mse, optimizer: {name: sgd, args: {learning_rate: {name: ExpDecay}}}}\n"
        + FIT,
        [
            "F:2:74: compile.optimizer.args.learning_rate.name: unknown schedule 'ExpDecay' (did you mean 'ExponentialDecay'?)",
        ],
    ),
    (
        "schedule missing argument",
        "model: {name: linear}\n"
        + "compile: {loss: mse, optimizer: {name: sgd, args: {learning_rate: {name: ExponentialDecay, args: {initial_learning_rate: 0.1, decay_steps: 10}}}}}\n"
        + FIT,
        [
            "F:2:98: compile.optimizer.args.learning_rate.args: ExponentialDecay needs the argument 'decay_rate'",
        ],
    ),
    (
        "schedule with a rate-setting callback",
        "model: {name: linear}\n"
        + "compile: {loss: mse, optimizer: {name: sgd, args: {learning_rate: {name: CosineDecay, args: {initial_learning_rate: 0.1, decay_steps: 10}}}}}\n"
        + FIT
        + "callbacks: [{name: ReduceLROnPlateau, args: {monitor: loss}}]\n",
        [
            "F:4:20: callbacks[0].name: ReduceLROnPlateau sets the learning rate, which is a schedule here (compile.optimizer.args.learning_rate): give a number instead",
        ],
    ),
    (
        "layer typo",
        "model: {name: sequential, args: {layers: [Flatten, Dence]}}\n"
        + "compile: {loss: mse}\n"
        + FIT,
        [
            "F:1:52: model.args.layers[1]: unknown Keras layer 'Dence' (did you mean 'Dense'?)",
        ],
    ),
    (
        "layer argument typo",
        "model: {name: sequential, args: {layers: [{name: Dense, args: {unitz: 1}}]}}\n"
        + "compile: {loss: mse}\n"
        + FIT,
        [
            "F:1:63: model.args.layers[0].args: Dense needs the argument 'units'",
            "F:1:64: model.args.layers[0].args.unitz: unknown argument of Dense (did you mean 'units'?)",
        ],
    ),
    (
        "layer argument type",
        "model: {name: sequential, args: {layers: [{name: Dense, args: {units: '8'}}]}}\n"
        + "compile: {loss: mse}\n"
        + FIT,
        [
            "F:1:71: model.args.layers[0].args.units: expected an integer, got '8' (a string)",
        ],
    ),
    (
        "layer base argument typo",
        "model: {name: sequential, args: {layers: [{name: Flatten, args: {nam: f}}]}}\n"
        + "compile: {loss: mse}\n"
        + FIT,
        [
            "F:1:66: model.args.layers[0].args.nam: unknown argument of Flatten (did you mean 'name'?)",
        ],
    ),
    (
        "builder argument type",
        "model: {name: mlp, args: {dropout: high}}\n"
        + "compile: {loss: sparse_categorical_crossentropy}\n"
        + FIT,
        [
            "F:1:36: model.args.dropout: expected a number, got 'high' (a string)",
        ],
    ),
    (
        "monitor typo",
        HEAD + FIT + "callbacks: [{name: EarlyStopping, args: {monitor: los}}]\n",
        [
            "F:4:51: callbacks[0].args.monitor: EarlyStopping monitors 'los', which the run never logs; the run logs learning_rate, loss (did you mean 'loss'?)",
        ],
    ),
    (
        "val monitor without validation",
        HEAD + FIT + "callbacks: [{name: ReduceLROnPlateau, args: {monitor: val_loss}}]\n",
        [
            "F:4:55: callbacks[0].args.monitor: ReduceLROnPlateau monitors 'val_loss', which the run never logs; there is no validation data: set data.validation_split, or monitor loss",
        ],
    ),
    (
        "default val monitor without validation",
        HEAD + FIT + "callbacks: [EarlyStopping]\n",
        [
            "F:4:13: callbacks[0].name: EarlyStopping monitors 'val_loss' by default, which the run never logs; there is no validation data: set data.validation_split, or monitor loss",
        ],
    ),
    (
        "monitor a metric not compiled",
        HEAD + FIT + VAL + "callbacks: [{name: EarlyStopping, args: {monitor: val_accuracy}}]\n",
        [
            "F:5:51: callbacks[0].args.monitor: EarlyStopping monitors 'val_accuracy', which the run never logs; the run logs learning_rate, loss, val_loss",
        ],
    ),
    (
        "monitor learning rate in auto mode",
        HEAD + FIT + "callbacks: [{name: EarlyStopping, args: {monitor: learning_rate}}]\n",
        [
            "F:4:41: callbacks[0].args: Keras cannot tell whether 'learning_rate' should go up or down: set mode: min or max",
        ],
    ),
    (
        "mode typo",
        HEAD + FIT + "callbacks: [{name: EarlyStopping, args: {monitor: loss, mode: mn}}]\n",
        [
            "F:4:63: callbacks[0].args.mode: must be one of auto, min, max; got 'mn' (a string)",
        ],
    ),
    (
        "argument ignored by kwargs",
        HEAD + FIT + "callbacks: [{name: ReduceLROnPlateau, args: {monitor: loss, facter: 0.5}}]\n",
        [
            "F:4:61: callbacks[0].args.facter: unknown argument of ReduceLROnPlateau (did you mean 'factor'?)",
        ],
    ),
    (
        "checkpoint not .keras",
        HEAD
        + FIT
        + "callbacks: [{name: ModelCheckpoint, args: {filepath: best.ckpt, monitor: loss}}]\n",
        [
            "F:4:54: callbacks[0].args.filepath: 'best.ckpt' must end in .keras: Keras 3 saves models only as .keras",
        ],
    ),
    (
        "checkpoint weights suffix",
        HEAD
        + FIT
        + "callbacks: [{name: ModelCheckpoint, args: {filepath: best.keras, monitor: loss, save_weights_only: true}}]\n",
        [
            "F:4:54: callbacks[0].args.filepath: 'best.keras' must end in .weights.h5: with save_weights_only, Keras 3 saves weights only as .weights.h5",
        ],
    ),
    (
        "checkpoint placeholder",
        HEAD
        + FIT
        + "callbacks: [{name: ModelCheckpoint, args: {filepath: 'm-{epoch:02d}-{val_loss:.2f}.keras', monitor: loss}}]\n",
        [
            "F:4:54: callbacks[0].args.filepath: '{val_loss}' is not a logged key (did you mean 'loss'?); it can be one of batch, epoch, learning_rate, loss",
        ],
    ),
    (
        "sparse loss on one output",
        "model: {name: linear}\n" + "compile: {loss: sparse_categorical_crossentropy}\n" + FIT,
        [
            "F:2:17: compile.loss: sparse_categorical_crossentropy needs one output per class (10); model linear has one: use mean_squared_error, or model mlp",
        ],
    ),
    (
        "one-hot loss on class numbers",
        MLP + "compile: {loss: categorical_crossentropy}\n" + FIT,
        [
            "F:2:17: compile.loss: categorical_crossentropy needs one-hot labels; the labels here are class numbers: use sparse_categorical_crossentropy",
        ],
    ),
    (
        "sparse loss on too few units",
        "model: {name: sequential, args: {layers: [Flatten, {name: Dense, args: {units: 5, activation: softmax}}]}}\n"
        + "compile: {loss: sparse_categorical_crossentropy}\n"
        + FIT,
        [
            "F:2:17: compile.loss: sparse_categorical_crossentropy needs one output per class (10); the last layer has 5 units",
        ],
    ),
    (
        "backup and restore",
        HEAD + FIT + "callbacks: [{name: BackupAndRestore, args: {backup_dir: b}}]\n",
        [
            "F:4:20: callbacks[0].name: BackupAndRestore cannot be used from a config: cbrun makes every run resumable itself (cbrun train --resume RUN_DIR), with each callback's state, which BackupAndRestore does not keep; two restores would compete. Remove it",
        ],
    ),
    (
        "callback argument type",
        HEAD + FIT + "callbacks: [{name: EarlyStopping, args: {monitor: loss, patience: '3'}}]\n",
        [
            "F:4:67: callbacks[0].args.patience: expected an integer, got '3' (a string)",
        ],
    ),
    (
        "augment layer misspelt",
        HEAD + FIT + "data: {augment: [RandomFlip, {name: RandomRotaton, args: {factor: 0.1}}]}\n",
        [
            "F:4:37: data.augment[1].name: unknown augmentation layer 'RandomRotaton' (did you mean 'RandomRotation'?)",
        ],
    ),
    (
        "augment with a layer that is not one",
        HEAD + FIT + "data: {augment: [Dense]}\n",
        [
            "F:4:18: data.augment[0]: Dense is not an augmentation layer: one of RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomShear, RandomContrast, RandomBrightness, RandomErasing, RandomGaussianBlur, RandomElasticTransform, RandomPerspective, RandomInvert",
        ],
    ),
    (
        "augment argument misspelt",
        HEAD + FIT + "data: {augment: [{name: RandomZoom, args: {height_factr: 0.1}}]}\n",
        [
            "F:4:43: data.augment[0].args: RandomZoom needs the argument 'height_factor'",
            "F:4:44: data.augment[0].args.height_factr: unknown argument of RandomZoom (did you mean 'height_factor'?)",
        ],
    ),
    (
        "augment with its own seed",
        HEAD + FIT + "data: {augment: [{name: RandomFlip, args: {seed: 3}}]}\n",
        [
            "F:4:50: data.augment[0].args.seed: leave seed out: each draw is seeded from the run's seed, epoch and step",
        ],
    ),
    (
        "augment a flip mode that exists",
        HEAD + FIT + "data: {augment: [{name: RandomFlip, args: {mode: diagonal}}]}\n",
        [
            "F:4:50: data.augment[0].args.mode: must be one of horizontal, vertical, horizontal_and_vertical; got 'diagonal' (a string)",
        ],
    ),
    (
        "own callback monitor",
        HEAD + FIT + "callbacks: [{name: EarlyStoppingAtMinLoss, args: {monitor: val_loss}}]\n",
        [
            "F:4:60: callbacks[0].args.monitor: EarlyStoppingAtMinLoss monitors 'val_loss', which the run never logs; there is no validation data: set data.validation_split, or monitor loss",
        ],
    ),
]


@pytest.mark.parametrize(
    "text,expected", [b[1:] for b in BROKEN + KERAS_LEVEL], ids=[b[0] for b in BROKEN + KERAS_LEVEL]
)
def test_broken_config_gets_exact_lines_and_writes_nothing(
    text, expected, tmp_path, cli, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "x.yaml"
    config.write_text(text, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("train", "x.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: {line.replace('F', 'x.yaml', 1)}" for line in expected
    ]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no runs/, no PWNED


def _err(cli, *args):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    return result.stderr.strip()


def test_non_utf8_file(tmp_path, cli):
    config = tmp_path / "latin.yaml"
    config.write_bytes(b"model: {name: linear}\nname: caf\xe9\n")
    assert _err(cli, "validate", config) == f"Error: {config}:2: not UTF-8 text (byte 0xe9)"


def test_directory_as_config(tmp_path, cli):
    assert (
        _err(cli, "validate", tmp_path) == f"Error: {tmp_path}: is a directory, not a config file"
    )


def test_missing_config_file(tmp_path, cli):
    assert (
        _err(cli, "validate", tmp_path / "no.yaml")
        == f"Error: {tmp_path / 'no.yaml'}: no such file"
    )


def test_oversized_config(tmp_path, cli):
    config = tmp_path / "big.yaml"
    config.write_text("# " + "x" * (1 << 20) + "\n")
    assert "larger than 1048576 bytes" in _err(cli, "validate", config)


def test_corrupted_npz_is_a_usage_error_before_any_run(tmp_path, cli, tiny_config):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    config = tiny_config(f"data: {{source: path, path: {bad}}}\n".replace("data:", "data:"))
    text = config.read_text().replace(
        "data: {dataset: mnist, source: bundled, limit: {train: 640, test: 256}}\n", ""
    )
    config.write_text(text)
    result = cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bad}: not a readable .npz file")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "override,message",
    [
        ("fit.epochs", "--set fit.epochs: expected KEY=VALUE, e.g. fit.epochs=5"),
        ("fit..epochs=3", "--set fit..epochs=3: 'fit..epochs' is not a dotted key path"),
        (
            "fit.epochs=abc",
            "--set fit.epochs=abc: fit.epochs: expected an integer, got 'abc' (a string)",
        ),
        ("fit.epochz=3", "--set fit.epochz=3: fit.epochz: unknown key (did you mean fit.epochs?)"),
        (
            "callbacks.5.args.patience=2",
            "--set callbacks.5.args.patience=2: callbacks[5]: no item 5 (the list has 2)",
        ),
        ("fit.epochs.x=1", "--set fit.epochs.x=1: fit.epochs: cannot set a key inside 30"),
        (
            "fit.epochs=[1",
            "--set fit.epochs=[1: invalid YAML: expected ',' or ']', but got "
            "'<stream end>' (while parsing a flow sequence)",
        ),
    ],
)
def test_bad_overrides(override, message, cli):
    assert (
        _err(cli, "validate", "configs/early_stop.yaml", "--set", override) == f"Error: {message}"
    )


def test_overrides_apply_and_show_in_resolved_config(cli):
    result = cli(
        "validate",
        "configs/early_stop.yaml",
        "--set",
        "fit.epochs=5",
        "--set",
        "callbacks.1.args.patience=2",
        "--set",
        "compile.metrics=[mae, mse]",
        "--set",
        "data.limit.train=100",
    )
    assert result.exit_code == 0, result.output
    spec = load_config(
        "configs/early_stop.yaml",
        ["fit.epochs=5", "callbacks.1.args.patience=2", "data.limit.train=100"],
    )
    assert spec.fit.epochs == 5 and spec.callbacks[1].args == {"patience": 2}
    assert spec.data.limit.train == 100
    assert "epochs: 5" in result.stdout and "patience: 2" in result.stdout
    assert "- mse" in result.stdout


def test_yaml_12_scalars(write_config):
    config = write_config(
        "model: {name: linear}\n"
        "compile: {loss: mse, optimizer: {name: adam, args: {learning_rate: 1e-3}}}\n"
        "fit: {epochs: 0x3}\n"
        "name: yes\n"
    )
    spec = load_config(config)
    assert spec.compile.optimizer.args["learning_rate"] == 0.001  # a float, not "1e-3"
    assert spec.fit.epochs == 3
    assert spec.name == "yes"  # not the boolean True


def test_defaults_fill_in(write_config):
    spec = load_config(write_config(HEAD + FIT, name="my_exp.yaml"))
    assert spec.name == "my-exp"
    assert spec.data.source == "auto" and spec.fit.batch_size == 32
    assert spec.evaluate.enabled and spec.callbacks == []


def test_problems_are_capped(write_config):
    many = HEAD + FIT + "callbacks:\n" + "".join(f"  - Nope{i}\n" for i in range(30))
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(many))
    assert len(caught.value.problems) == 21
    assert caught.value.problems[-1].message == "... and 10 more problems"


def test_config_errors_import_no_tensorflow(tmp_path):
    """validate and every config error must answer before TensorFlow loads."""
    import subprocess

    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "fit: {epochs: 0}\n")
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from cbrun.cli.main import cli\n"
        f"r1 = CliRunner().invoke(cli, ['validate', 'configs/early_stop.yaml'])\n"
        f"r2 = CliRunner().invoke(cli, ['train', {str(bad)!r}])\n"
        "r3 = CliRunner().invoke(cli, ['list-callbacks', '--json'])\n"
        "r4 = CliRunner().invoke(cli, ['--help'])\n"
        "assert [r.exit_code for r in (r1, r2, r3, r4)] == [0, 2, 0, 0], (r1.output, r2.output)\n"
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "print(','.join(loaded) or 'none')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_named_problems_of_a_schema_valid_spec():
    from cbrun.config.checks import named_problems
    from cbrun.config.spec import RunSpec

    spec = RunSpec.model_validate({"model": {"name": "mpl"}, "compile": {"loss": "mae"}, "fit": {}})
    assert named_problems(spec) == [
        (("model", "name"), "unknown model 'mpl' (did you mean 'mlp'?)", False)
    ]


SIX_MISTAKES = """\
name: six
data: {dataset: mnist, source: bundled, validation_split: 0.1}
model: {name: mlp, args: {unitz: [32]}}
compile:
  optimizer: {name: adam, args: {lr: 0.01}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {batch_size: 32, epoch: 3}
callbacks:
  - {name: EarlyStopping, args: {patiance: 2}}
  - {name: ModelCheckpoint, args: {filepath: best.h5}}
  - {name: ReduceLROnPlateau, args: {monitor: val_acc}}
logging: {every: 0}
"""


def test_every_problem_of_a_file_in_one_pass(write_config):
    """Schema keys, Keras-level names and arguments, and cross-field rules at once."""
    path = write_config(SIX_MISTAKES)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).replace(str(path), "F").splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        "F:3:27",  # model.args.unitz (a Keras-level argument)
        "F:5:34",  # compile.optimizer.args.lr (removed in Keras 3)
        "F:8:23",  # fit.epoch (the schema)
        "F:10:34",  # callbacks[0].args.patiance
        "F:11:46",  # callbacks[1].args.filepath .h5 (a cross-field rule)
        "F:12:47",  # callbacks[2] monitors val_acc (a cross-field rule)
        "F:13:18",  # logging.every (the schema)
    ]
    assert "fit.epoch: unknown key (did you mean 'epochs'?)" in lines[2]
    assert "'best.h5' must end in .keras" in lines[4]
    assert "monitors 'val_acc', which the run never logs" in lines[5]


def test_a_broken_section_skips_only_the_checks_that_read_it(write_config):
    path = write_config(
        "model: {name: mlp, args: {unitz: [32]}}\n"
        "compile: 5\n"
        "fit: {epochs: 1}\n"
        "callbacks: [{name: EarlyStopping, args: {patiance: 2}}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "compile: expected a mapping, got 5" in text
    assert "model.args.unitz: unknown argument of mlp" in text
    assert "callbacks[0].args.patiance: unknown argument of EarlyStopping" in text
    # The monitor rule reads compile (what the run logs): skipped, not guessed.
    assert "monitors" not in text
