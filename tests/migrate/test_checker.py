"""`cbrun check-plugin` and what a legacy plugin does at run time.

The guide's and the blog's callbacks (tests/legacy/, pasted as users paste them)
are read, never imported, by the check; after the `--diff` fixes they train.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cbrun.build.plugins import module_source
from cbrun.migrate.checker import apply_fixes, check_file, check_source
from tests.conftest import run_cbrun

LEGACY = Path(__file__).resolve().parents[1] / "legacy"

# What the check must say about the guide's code: (line, the start of the message).
GUIDE_FINDINGS = [
    (16, "RMSprop(lr=...) was removed in Keras 3"),
    (69, "np.Inf was removed in NumPy 2"),
    (105, "hasattr(..., 'lr'): Keras 3 optimizers have no attribute lr"),
    (108, "self.model.optimizer.lr does not exist on Keras 3 optimizers"),
    (112, "tf.keras.backend.set_value fails on Keras 3 variables"),
    (112, "self.model.optimizer.lr does not exist on Keras 3 optimizers"),
]

# One case per idiom: source, the line it is on, a piece of the message, and the
# mechanically fixed line (None where no mechanical fix exists).
IDIOMS = {
    "lr keyword": (
        "import keras\nopt = keras.optimizers.Adam(lr=0.1)\n",
        2,
        "Adam(lr=...) was removed",
        "opt = keras.optimizers.Adam(learning_rate=0.1)",
    ),
    "decay keyword": (
        "from tensorflow.keras.optimizers import SGD\nopt = SGD(0.1, decay=1e-6)\n",
        2,
        "SGD(decay=...) was removed",
        None,
    ),
    "optimizer.lr read": (
        "def f(self):\n    return float(self.model.optimizer.lr)\n",
        2,
        "self.model.optimizer.lr does not exist",
        "    return float(self.model.optimizer.learning_rate)",
    ),
    "optimizer.lr write": (
        "def f(self):\n    self.model.optimizer.lr = 0.5\n",
        2,
        "sets an attribute Keras 3 never reads",
        "    self.model.optimizer.learning_rate = 0.5",
    ),
    "tf.keras get_value of lr": (
        "import tensorflow as tf\nx = tf.keras.backend.get_value(model.optimizer.lr)\n",
        2,
        "model.optimizer.lr does not exist",
        "x = tf.keras.backend.get_value(model.optimizer.learning_rate)",
    ),
    "K.set_value (Keras 3 backend)": (
        "from keras import backend as K\nK.set_value(optimizer.learning_rate, 0.1)\n",
        2,
        "keras.backend.set_value fails on Keras 3 variables (it does not exist there)",
        "optimizer.learning_rate.assign(0.1)",
    ),
    "K.get_value (Keras 3 backend)": (
        "import keras\nv = keras.backend.get_value(w)\n",
        2,
        "keras.backend.get_value does not exist in Keras 3",
        None,
    ),
    "K.get_value of lr (tf.keras backend)": (
        "from tensorflow.keras import backend as K\nv = K.get_value(opt.lr)\n",
        2,
        "opt.lr does not exist",
        "v = K.get_value(opt.learning_rate)",
    ),
    "np.Inf": ("import numpy as np\nbest = np.Inf\n", 2, "np.Inf was removed", "best = np.inf"),
    "np.NaN": ("import numpy\nx = numpy.NaN\n", 2, "numpy.NaN was removed", "x = numpy.nan"),
    "np.float": (
        "import numpy as np\nx = np.zeros(3, dtype=np.float)\n",
        2,
        "np.float was removed",
        "x = np.zeros(3, dtype=float)",
    ),
    "np.float_": (
        "import numpy as onp\nx = onp.float_(1)\n",
        2,
        "onp.float_ was removed",
        "x = onp.float64(1)",
    ),
    "from numpy import Inf": ("from numpy import Inf\n", 1, "numpy.Inf was removed", None),
    "fit_generator": (
        "model.fit_generator(gen, steps_per_epoch=5)\n",
        1,
        "Model.fit_generator was removed",
        "model.fit(gen, steps_per_epoch=5)",
    ),
    "evaluate_generator": (
        "model.evaluate_generator(gen)\n",
        1,
        "Model.evaluate_generator was removed",
        "model.evaluate(gen)",
    ),
    "predict_generator": (
        "model.predict_generator(gen)\n",
        1,
        "Model.predict_generator was removed",
        "model.predict(gen)",
    ),
    "logs acc": (
        'def on_epoch_end(self, epoch, logs=None):\n    print(logs["acc"])\n',
        2,
        "'acc' is never logged",
        '    print(logs["accuracy"])',
    ),
    "logs.get val_acc": (
        "def on_epoch_end(self, epoch, logs=None):\n    v = logs.get('val_acc')\n",
        2,
        "'val_acc' is never logged",
        "    v = logs.get('val_accuracy')",
    ),
    "monitor val_acc": (
        "import keras\ncb = keras.callbacks.EarlyStopping(monitor='val_acc')\n",
        2,
        "'val_acc' is never logged",
        "cb = keras.callbacks.EarlyStopping(monitor='val_accuracy')",
    ),
    "batch logs size": (
        "def on_batch_end(self, batch, logs=None):\n    self.seen += logs['size']\n",
        2,
        "Keras 3 batch logs carry no 'size'",
        None,
    ),
    "batch logs batch": (
        "def on_train_batch_begin(self, batch, logs=None):\n    i = logs.get('batch')\n",
        2,
        "Keras 3 batch logs carry no 'batch'",
        None,
    ),
    "session-era backend": (
        "import tensorflow as tf\nsess = tf.keras.backend.get_session()\n",
        2,
        "tf.keras.backend.get_session is gone with TF 1 sessions",
        None,
    ),
    "tf.Session": ("import tensorflow as tf\ns = tf.Session()\n", 2, "tf.Session is", None),
    "stop_training in a batch hook": (
        "def on_train_batch_end(self, batch, logs=None):\n    self.model.stop_training = True\n",
        2,
        "note: stop_training set in on_train_batch_end",
        None,
    ),
}


@pytest.mark.parametrize("case", IDIOMS.values(), ids=IDIOMS.keys())
def test_each_idiom_is_found_at_its_line_and_fixed_where_mechanical(case):
    source, line, message, fixed = case
    findings = check_source(source, "plugin.py")
    assert len(findings) == 1, findings
    text = str(findings[0])
    assert text.startswith(f"plugin.py:{line}:") and message in text, text
    assert " — " in text  # what to write instead
    after = apply_fixes(source, findings).splitlines()[line - 1]
    assert after == (fixed if fixed is not None else source.splitlines()[line - 1])


def test_columns_point_at_the_token_in_characters_not_bytes():
    source = "import numpy as np\nlabel = '최소'; best = np.Inf\n"
    (finding,) = check_source(source, "p.py")
    assert (finding.line, finding.col) == (2, source.splitlines()[1].index("np.Inf") + 1)
    assert apply_fixes(source, [finding]).splitlines()[1] == "label = '최소'; best = np.inf"


CLEAN = """
import keras
import numpy as np


class Modern(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.best = np.inf

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.model.optimizer.learning_rate = lr * 0.5

    def on_epoch_end(self, epoch, logs=None):
        if logs["accuracy"] < self.best:
            self.model.stop_training = True
"""


def test_clean_modern_code_has_no_finding():
    assert check_source(CLEAN) == []


def test_the_guides_callbacks_are_flagged_at_their_lines():
    findings = check_file(LEGACY / "guide_callbacks.py")
    assert [(f.line, f.message) for f in findings] == [
        (line, message) for line, message in GUIDE_FINDINGS
    ]


def test_the_blogs_callback_is_clean():
    assert check_file(LEGACY / "blog_callback.py") == []


def test_check_plugin_exit_codes_and_lines(tmp_path):
    clean = tmp_path / "clean.py"
    clean.write_text(CLEAN)
    assert run_cbrun("check-plugin", clean).returncode == 0
    result = run_cbrun("check-plugin", LEGACY / "guide_callbacks.py")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split(":")[1] for line in lines] == [str(line) for line, _ in GUIDE_FINDINGS]
    assert all(" — " in line for line in lines)
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    result = run_cbrun("check-plugin", broken)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: {broken}:1:") and "Traceback" not in result.stderr
    result = run_cbrun("check-plugin", tmp_path / "missing.py")
    assert (
        result.returncode == 2
        and result.stderr == f"Error: {tmp_path / 'missing.py'}: no such file\n"
    )


def test_check_plugin_by_module_name_never_imports_it(tmp_path):
    marker = tmp_path / "IMPORTED"
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('init')\n")
    (package / "legacy.py").write_text(
        f"open({str(marker)!r}, 'w').write('module')\nimport numpy as np\nx = np.NaN\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cbrun", "check-plugin", "mypkg.legacy:X"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"{package / 'legacy.py'}:3:5: np.NaN was removed")
    assert not marker.exists()
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "tensorflow" not in imported and "keras" not in imported
    assert module_source("mypkg.legacy", [tmp_path]) == package / "legacy.py"


def test_diff_prints_the_fixes_and_writes_nothing(tmp_path):
    plugin = tmp_path / "guide_callbacks.py"
    shutil.copy(LEGACY / "guide_callbacks.py", plugin)
    before = plugin.read_text()
    result = run_cbrun("check-plugin", plugin.name, "--diff", cwd=tmp_path)
    assert result.returncode == 1
    assert plugin.read_text() == before
    assert result.stdout.startswith(f"--- {plugin.name}\n+++ {plugin.name} (fixed)\n")
    assert "-    self.best = np.Inf\n+    self.best = np.inf\n" in result.stdout
    assert result.stderr.count(" — ") == len(GUIDE_FINDINGS)


GUIDE_RUN = """
plugins: [guide_callbacks]
callbacks:
  - guide_callbacks:MyCustomCallback
  - guide_callbacks:LossAndErrorPrintingCallback
  - {name: 'guide_callbacks:EarlyStoppingAtMinLoss', args: {patience: 1}}
  - guide_callbacks:GuideSchedule
"""


def _guide_config(tiny_config, tmp_path, *, fixed: bool):
    """TINY with the guide's four callbacks as plugins, pasted as-is or after `--diff`."""
    config = tiny_config(GUIDE_RUN + "fit: {batch_size: 32, epochs: 5, steps_per_epoch: 2}\n")
    plugin = config.parent / "guide_callbacks.py"
    shutil.copy(LEGACY / "guide_callbacks.py", plugin)
    if fixed:
        diff = run_cbrun("check-plugin", plugin.name, "--diff", cwd=config.parent).stdout
        subprocess.run(
            ["patch", "--quiet", "-p0"], input=diff, text=True, cwd=config.parent, check=True
        )
        assert check_file(plugin) == []
    return config


def test_the_guides_callbacks_train_after_the_diffs_fixes(tiny_config, tmp_path):
    config = _guide_config(tiny_config, tmp_path, fixed=True)
    result = run_cbrun("train", config, "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    assert "warning:" not in result.stdout
    assert "Training: batch 0 begins at" in result.stdout
    assert "Epoch 00003: Learning rate is 0.0500." in result.stdout
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] in ("completed", "stopped_early")


def test_a_legacy_plugin_warns_before_training_and_fails_in_one_line(tiny_config, tmp_path):
    config = _guide_config(tiny_config, tmp_path, fixed=False)
    result = run_cbrun("train", config, "--runs-dir", tmp_path / "runs")
    assert result.returncode == 1
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    plugin = config.parent / "guide_callbacks.py"
    assert [w.split(":")[2] for w in warnings] == [str(line) for line, _ in GUIDE_FINDINGS]
    assert result.stdout.index("warning: ") < result.stdout.index("run: ")  # before training
    # It failed in its first epoch: nothing to resume, no run folder left (issue 37); the
    # traceback is kept in the user's crash folder, which the line names.
    assert not any((tmp_path / "runs").iterdir())
    said = (
        f"Error: plugin {plugin}:69: AttributeError: `np.Inf` was removed in the NumPy 2.0 "
        "release. Use `np.inf` instead. — use np.inf (traceback in "
    )
    assert result.stderr.startswith(said) and result.stderr.endswith(")\n"), result.stderr
    crash = Path(result.stderr[len(said) : -2])
    log = crash.read_text()
    assert "Traceback (most recent call last)" in log and "self.best = np.Inf" in log


def test_a_fix_in_another_line_of_the_failing_hook_is_named(tmp_path):
    """The guide's scheduler raises its own ValueError on line 106; the idiom is on 105."""
    from cbrun.build.plugin_failures import explain_plugin_failure

    plugin = tmp_path / "sched.py"
    shutil.copy(LEGACY / "guide_callbacks.py", plugin)
    namespace = {"__name__": "sched"}
    exec(compile(plugin.read_text(), str(plugin), "exec"), namespace)

    class Keras3Optimizer:
        learning_rate = 0.1

    callback = namespace["LearningRateScheduler"](namespace["lr_schedule"])
    callback.set_model(type("Model", (), {"optimizer": Keras3Optimizer()})())
    with pytest.raises(ValueError) as raised:
        callback.on_epoch_begin(0)
    assert explain_plugin_failure(raised.value, [plugin]) == (
        f'plugin {plugin}:106: ValueError: Optimizer must have a "lr" attribute. — line 105: '
        "hasattr(..., 'lr'): Keras 3 optimizers have no attribute lr: use 'learning_rate'"
    )


def test_verbose_prints_the_plugins_traceback(tiny_config, tmp_path):
    config = _guide_config(tiny_config, tmp_path, fixed=False)
    result = run_cbrun("train", config, "--runs-dir", tmp_path / "runs", "--verbose")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "self.best = np.Inf" in result.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\0\n", ":1:6: not valid Python: source code string cannot contain null bytes"),
        ("x = " + "+".join(["1"] * 200_000) + "\n", ": an expression nested too deeply to check"),
        ("x = " + "-" * 100_000 + "1\n", ": an expression nested too deeply to check"),
    ],
)
def test_a_plugin_python_cannot_check_is_one_line_with_its_place(source, message, tmp_path):
    from cbrun.errors import UsageError

    path = tmp_path / "odd.py"
    path.write_text(source)
    with pytest.raises(UsageError) as caught:
        check_file(path)
    assert str(caught.value) == f"{path}{message}" or str(caught.value).startswith(
        f"{path}{message}"
    )
    assert "None" not in str(caught.value)
