"""The catalog's model builders are exactly the builders `build/` registers, read without them."""

from __future__ import annotations

from cbrun.build.models import MODELS
from cbrun.catalog.datasets import names_in
from cbrun.catalog.models import INJECTED, OPTIMIZERS, model_names
from cbrun.catalog.registry import is_plugin, split_reference


def test_the_table_names_every_registered_builder():
    assert model_names() == MODELS.names()


def test_optimizer_names_map_to_keras_classes():
    import keras

    for name, cls in OPTIMIZERS.items():
        assert name == name.lower() and hasattr(keras.optimizers, cls)
    assert "input_shape" in INJECTED


def test_a_plugin_is_a_module_path_the_registry_does_not_hold():
    assert is_plugin("my_models:build_net", model_names())
    assert not is_plugin("mlp", model_names())
    assert split_reference("pkg.mod.Class") == ("pkg.mod", "Class")


def test_names_in_reads_the_zip_directory_only(tmp_path):
    import numpy as np

    path = tmp_path / "a.npz"
    np.savez(path, x_train=np.zeros(2), x_val=np.zeros(1))
    assert names_in(path) == {"x_train", "x_val"}
    assert names_in(tmp_path / "missing.npz") == set()
