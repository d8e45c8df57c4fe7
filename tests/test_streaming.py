"""Training examples kept as column lists, expanded per batch; the sampled softmax's parts."""

import numpy as np
import pytest
import tensorflow as tf

from recft_utils.models.streaming import as_constants, batch_columns, dense_rows, draw, membership, popularity_sampler
from recft_utils.models.training_data import ColumnLists, multi_hot

LISTS = [np.array([3, 1]), np.array([], dtype=np.int64), np.array([0, 3, 3]), np.array([4])]


def test_a_batch_expands_to_exactly_the_dense_matrix_of_its_rows():
    lists = ColumnLists.from_lists(LISTS)
    rows = tf.constant([2, 0, 3, 1])
    expected = multi_hot(LISTS, 6)[[2, 0, 3, 1]].astype(np.float32)
    assert np.array_equal(dense_rows(as_constants(lists), rows, 6).numpy(), expected)
    assert np.array_equal(multi_hot(lists, 6), multi_hot(LISTS, 6))
    assert lists.counts(6).tolist() == [1, 1, 0, 3, 1, 0]  # entries, repeats included


def test_examples_can_share_a_customer_s_list_as_prefixes():
    shared = ColumnLists(np.array([5, 2, 7], np.int32), np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert [shared[i].tolist() for i in range(3)] == [[5], [5, 2], [5, 2, 7]]
    assert shared.counts(8)[[5, 2, 7]].tolist() == [3, 2, 1]
    assert dense_rows(as_constants(shared), tf.constant([1]), 8).numpy()[0].nonzero()[0].tolist() == [2, 5]


def test_batch_columns_and_membership_follow_the_lists():
    lists = as_constants(ColumnLists.from_lists(LISTS))
    rows = tf.constant([0, 2])
    assert sorted(batch_columns(lists, rows).numpy().tolist()) == [0, 1, 3]
    member = membership(lists, rows, tf.constant([3, 4, 0]), 6).numpy()
    assert member.tolist() == [[True, False, False], [True, False, True]]
    assert not membership(lists, tf.constant([1]), tf.constant([0, 3]), 6).numpy().any()  # an empty list


def test_draws_follow_the_smoothed_popularity():
    cdf, log_q = popularity_sampler(np.array([0, 10, 1000, 0]))
    assert np.isclose(np.exp(log_q).sum(), 1.0) and np.exp(log_q)[2] > 0.7
    tf.random.set_seed(0)
    drawn = draw(tf.constant(cdf), 20_000).numpy()
    assert drawn.min() >= 0 and drawn.max() <= 3
    share = np.bincount(drawn, minlength=4) / len(drawn)
    assert share == pytest.approx(np.exp(log_q), abs=0.02)


def test_a_large_catalogue_trains_with_a_sampled_softmax_and_still_learns(shop_sample):
    import pandas as pd

    from recft_utils.evaluation import evaluate
    from recft_utils.models import Random
    from recft_utils.models.streaming import DEFAULT_NEGATIVES, SAMPLED_SOFTMAX_MIN_ITEMS
    from recft_utils.models.two_tower import TwoTowerConfig
    from recft_utils.models.two_tower_recommender import TwoTowerRecommender

    assert TwoTowerConfig().negatives_for(SAMPLED_SOFTMAX_MIN_ITEMS) == 0
    assert TwoTowerConfig().negatives_for(SAMPLED_SOFTMAX_MIN_ITEMS + 1) == DEFAULT_NEGATIVES
    assert TwoTowerConfig(sampled_negatives=0).negatives_for(10**6) == 0
    _, valid, _ = shop_sample
    items = np.sort(shop_sample[0]["item_id"].unique())
    vectors = pd.DataFrame(np.random.default_rng(0).normal(size=(len(items), 16)).astype("float32"), index=items)
    model = TwoTowerRecommender(vectors, TwoTowerConfig(epochs=3, sampled_negatives=32), seed=0).fit(valid, 3)
    assert model.stats["softmax"] == "sampled (32 negatives)" and np.isfinite(model.stats["final_loss"])
    ndcg = evaluate(model, valid, views=("discovery",))["discovery"]["ndcg"].mean()
    assert ndcg > 2 * evaluate(Random().fit(valid), valid, views=("discovery",))["discovery"]["ndcg"].mean()


def test_adversarial_training_works_with_the_sampled_softmax_too(shop_sample):
    """FGM pushes the text vectors of the rows a sampled step reads (a large catalogue's ablation uses it)."""
    import pandas as pd

    from recft_utils.models.two_tower import TwoTowerConfig
    from recft_utils.models.two_tower_recommender import TwoTowerRecommender

    _, valid, _ = shop_sample
    items = np.sort(shop_sample[0]["item_id"].unique())
    vectors = pd.DataFrame(np.random.default_rng(0).normal(size=(len(items), 16)).astype("float32"), index=items)
    losses = {}
    for epsilon in (0.0, 0.5):
        config = TwoTowerConfig(epochs=1, sampled_negatives=32, adversarial_epsilon=epsilon)
        model = TwoTowerRecommender(vectors, config, seed=0).fit(valid, 1)
        losses[epsilon] = model.stats["final_loss"]
    assert np.isfinite(losses[0.5]) and losses[0.5] > losses[0.0]  # the pushed loss is added to the plain one


def test_max_examples_trains_on_a_seeded_sample_of_the_examples(shop_sample):
    """The tiny profile's budget: a heavy-buying shop's smoke test trains on a sample, said in the stats."""
    import pandas as pd

    from recft_utils.errors import ParameterError
    from recft_utils.models.two_tower import TwoTowerConfig
    from recft_utils.models.two_tower_recommender import TwoTowerRecommender

    _, valid, _ = shop_sample
    items = np.sort(shop_sample[0]["item_id"].unique())
    vectors = pd.DataFrame(np.random.default_rng(0).normal(size=(len(items), 16)).astype("float32"), index=items)
    model = TwoTowerRecommender(vectors, TwoTowerConfig(epochs=1, max_examples=40), seed=0).fit(valid, 1)
    assert model.stats["train_examples"] == 40 < model.stats["all_examples"]
    with pytest.raises(ParameterError, match="max_examples must be positive"):
        TwoTowerConfig(max_examples=0).checked()
