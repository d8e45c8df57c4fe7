"""Notebook 03's readable two-tower model trains exactly like the package's production model."""

import numpy as np
import pytest

from recft_utils.keras_backend import keras, tf
from recft_utils.models import plain_two_tower
from recft_utils.models.optimization import build_optimizer
from recft_utils.models.plain_two_tower import PlainTwoTower, compile_and_fit, softmax_loss, training_data
from recft_utils.models.streaming import as_constants
from recft_utils.models.training_data import daily_popularity, first_sale_days, order_examples
from recft_utils.models.two_tower import TwoTowerConfig, build_model, softmax_over_catalogue


def _twins(task, config, steps):
    vectors = np.random.default_rng(0).normal(size=(len(task.items), 24)).astype(np.float32)
    popularity, first_day = daily_popularity(task, config.popularity_days), first_sale_days(task)
    keras.utils.set_random_seed(0)
    package = build_model(vectors, popularity, task.n_warm, config, first_day)
    package.compile(optimizer=config.optimizer(steps), loss=softmax_over_catalogue)
    build_optimizer(package)
    plain = PlainTwoTower(vectors, popularity, first_day, dim=config.dim, dropout=config.dropout, l2=config.l2)
    inputs, _ = training_data(task, config.max_history)
    plain({name: values[:2] for name, values in inputs.items()})  # build, then copy the package's weights
    for layer in ("adapter", "user"):
        getattr(plain, layer).set_weights(getattr(package, layer).get_weights())
    for weight in ("bias", "decay", "popularity_weight"):
        getattr(plain, weight).assign(getattr(package, weight))
    return package, plain


def _weights(model):
    return [
        model.adapter.kernel,
        model.adapter.bias,
        model.user.kernel,
        model.user.bias,
        model.bias,
        model.decay,
        model.popularity_weight,
    ]


def test_the_plain_model_trains_like_the_package_model(shop_sample):
    _, valid, _ = shop_sample
    config = TwoTowerConfig(dim=16, dropout=0.0, l2=1e-3, batch_size=32, epochs=1, sampled_negatives=0)
    histories, targets, seen = order_examples(valid, config.max_history)
    steps = int(np.ceil(len(histories) / config.batch_size))
    assert steps >= 4
    package, plain = _twins(valid, config, steps)
    before = [np.array(w) for w in _weights(package)]

    package.examples = (as_constants(targets), as_constants(seen))
    rows = np.arange(len(histories), dtype=np.int32)
    package.fit(
        {**histories.as_inputs(), "example": rows}, rows, batch_size=config.batch_size, shuffle=False, verbose=0
    )
    inputs, bought = training_data(valid, config.max_history)
    plain.compile(optimizer=config.optimizer(steps))
    plain.fit(inputs, bought, batch_size=config.batch_size, shuffle=False, verbose=0)

    for trained, plain_weight, start in zip(_weights(package), _weights(plain), before):
        assert not np.allclose(np.array(trained), start)  # both really trained
        np.testing.assert_allclose(np.array(plain_weight), np.array(trained), rtol=1e-4, atol=1e-6)


def test_the_plain_model_scores_like_the_package_model(shop_sample):
    _, valid, _ = shop_sample
    config = TwoTowerConfig(dim=16, dropout=0.0)
    package, plain = _twins(valid, config, 1)
    inputs, _ = training_data(valid, config.max_history)
    batch = {name: values[:50] for name, values in inputs.items()}
    expected = np.array(package.training_logits(batch, package.item_matrix()))
    np.testing.assert_allclose(np.array(plain(batch)), expected, rtol=1e-5, atol=1e-4)


def test_the_loss_is_the_package_loss():
    logits = tf.constant(np.random.default_rng(1).normal(size=(3, 7)), tf.float32)
    bought = tf.constant(np.eye(7)[[0, 3, 5]] + np.eye(7)[[1, 1, 1]], tf.float32)
    np.testing.assert_allclose(softmax_loss(bought, logits), softmax_over_catalogue(bought, logits), rtol=1e-6)


def test_training_data_is_capped_by_cells(shop_sample):
    _, valid, _ = shop_sample
    inputs, bought = training_data(valid, 50, most_cells=10 * len(valid.items))
    assert bought.shape == (10, len(valid.items)) and inputs["seen"].shape == bought.shape
    assert inputs["items"].shape[0] == 10


def test_compile_and_fit_stops_early_on_validation_ndcg(shop_sample):
    _, valid, _ = shop_sample
    vectors = np.random.default_rng(0).normal(size=(len(valid.items), 24)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = PlainTwoTower(vectors, daily_popularity(valid), first_sale_days(valid), dim=16)
    history = compile_and_fit(model, valid, epochs=6, batch_size=64, learning_rate=0.05, patience=1)
    curve = history.history["val_ndcg@10"]
    assert 1 <= len(curve) <= 6 and all(0 <= v <= 1 for v in curve)
    kept = plain_two_tower.ValidationNDCG(valid)
    kept.set_model(model)
    logs = {}
    kept.on_epoch_end(0, logs)
    assert logs["val_ndcg@10"] == pytest.approx(max(curve))  # the best epoch's weights are back
