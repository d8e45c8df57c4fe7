"""recft's one change to Keras internals (recft_utils.models.optimization._decay_at_one_rate): AdamW's
weight decay reads the learning rate once per step. These tests fail when a Keras or TensorFlow
release moves what it relies on, or when the change would alter a single update."""

import numpy as np

from recft_utils.keras_backend import keras, tf
from recft_utils.models import optimization
from recft_utils.models.two_tower import TwoTowerConfig


def test_what_the_patch_relies_on_is_still_there():
    optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.1)
    assert callable(optimizer._apply_weight_decay) and callable(optimizer._use_weight_decay)
    assert hasattr(optimizer, "_distribution_strategy")
    assert callable(tf.__internal__.distribute.interim.maybe_merge_call)


def _trained(patched: bool, steps: int = 6) -> list[np.ndarray]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    optimizer = TwoTowerConfig(learning_rate=0.05, weight_decay=0.3, warmup_fraction=0.5).optimizer(steps)
    model.compile(optimizer=optimizer, loss="mse")
    if patched:
        optimization.build_optimizer(model)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 8)).astype(np.float32), rng.normal(size=(64, 1)).astype(np.float32)
    model.fit(x, y, batch_size=16, epochs=steps // 4 + 1, verbose=0, shuffle=False)
    return [np.asarray(w) for w in model.weights]


def test_the_patched_decay_changes_no_update():
    plain, patched = _trained(False), _trained(True)
    assert any(not np.allclose(w, 0) for w in patched)
    for a, b in zip(plain, patched):
        np.testing.assert_array_equal(a, b)


def test_the_patch_replaces_the_decay_of_its_optimizer_only():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.1), loss="mse")
    untouched = keras.optimizers.AdamW(1e-3, weight_decay=0.1)
    optimization.build_optimizer(model)
    assert "_apply_weight_decay" in vars(model.optimizer)  # an attribute of that instance
    assert "_apply_weight_decay" not in vars(untouched)
    assert model.optimizer.built


def test_an_optimizer_without_weight_decay_is_left_as_it_is():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    optimization.build_optimizer(model)
    assert "_apply_weight_decay" not in vars(model.optimizer)
