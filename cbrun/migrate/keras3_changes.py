"""What Keras 3, TensorFlow 2.16+ and NumPy 2 removed or renamed, and what replaced each.

The tables `checker.py` checks plugin source against. Plain data, no imports.
"""

from __future__ import annotations

import re

# Keras 3 optimizer classes: `lr=` and `decay=` were removed from all of them.
OPTIMIZERS = frozenset(
    "SGD Adam AdamW Adamax Adagrad Adadelta Adafactor Nadam RMSprop Ftrl Lion Lamb Muon"
    " LossScaleOptimizer".split()
)

# What Keras 3's own `keras.backend` still has (3.15); anything else there is gone.
KERAS3_BACKEND = frozenset(
    "backend clear_session epsilon floatx get_uid image_data_format is_float_dtype is_int_dtype"
    " is_keras_tensor result_type set_epsilon set_floatx set_image_data_format"
    " standardize_dtype".split()
)

# Graph-and-session calls of TF 1 / Keras 2 that `tf.keras.backend` no longer has.
SESSION_ERA = frozenset(
    "get_session set_session get_graph placeholder function learning_phase set_learning_phase"
    " manual_variable_initialization symbolic is_placeholder".split()
)
# TF 1 names removed from the top-level `tf` namespace in TF 2.
TF1_NAMES = frozenset(
    "Session InteractiveSession placeholder global_variables_initializer get_default_graph"
    " reset_default_graph variable_scope get_variable ConfigProto".split()
)

# NumPy names removed in NumPy 2 (or before, in 1.20-1.24): name -> what to write.
# A replacement starting with "np." keeps the module alias the code already uses.
NUMPY_REMOVED = {
    "Inf": "np.inf",
    "Infinity": "np.inf",
    "infty": "np.inf",
    "PINF": "np.inf",
    "NINF": "-np.inf",
    "NaN": "np.nan",
    "NAN": "np.nan",
    "PZERO": "0.0",
    "NZERO": "-0.0",
    "float": "float",
    "int": "int",
    "bool": "bool",
    "object": "object",
    "str": "str",
    "unicode": "str",
    "long": "int",
    "float_": "np.float64",
    "complex_": "np.complex128",
    "cfloat": "np.complex128",
    "longfloat": "np.longdouble",
    "singlecomplex": "np.complex64",
    "longcomplex": "np.clongdouble",
    "clongfloat": "np.clongdouble",
    "unicode_": "np.str_",
    "string_": "np.bytes_",
    "int0": "np.intp",
    "uint0": "np.uintp",
    "bool8": "np.bool_",
    "product": "np.prod",
    "cumproduct": "np.cumprod",
    "alltrue": "np.all",
    "sometrue": "np.any",
    "round_": "np.round",
    "trapz": "np.trapezoid",
    "in1d": "np.isin",
    "row_stack": "np.vstack",
    "msort": "np.sort(a, axis=0)",
    "asfarray": "np.asarray(a, dtype=float)",
    "mat": "np.asmatrix",
    "issubclass_": "issubclass",
    "find_common_type": "np.result_type",
    "cast": "np.asarray(x, dtype=...)",
    "source": "inspect.getsource",
    "who": "an IDE's variable view",
    "lookfor": "the documentation search",
    "safe_eval": "ast.literal_eval",
    "deprecate": "warnings.warn",
    "set_string_function": "np.set_printoptions(formatter=...)",
}
# Those whose replacement is a drop-in name or number, applied by `--diff`.
_DROP_IN = re.compile(r"-?(np\.)?[A-Za-z_]\w*|-?\d+\.\d+")
NUMPY_MECHANICAL = {name for name, new in NUMPY_REMOVED.items() if _DROP_IN.fullmatch(new)}

BATCH_HOOK_PREFIXES = ("on_batch_", "on_train_batch_", "on_test_batch_", "on_predict_batch_")
GENERATOR_METHODS = {
    "fit_generator": "fit",
    "evaluate_generator": "evaluate",
    "predict_generator": "predict",
}
RENAMED_METRICS = {"acc": "accuracy", "val_acc": "val_accuracy"}

VALUE_FIX = (
    "read with float(variable) or keras.ops.convert_to_numpy(variable), "
    "write with variable.assign(value)"
)
SESSION_FIX = "Keras 3 runs eagerly or in tf.function: drop sessions, graphs and placeholders"
