"""The learned lexical ranker for new products: listwise weights learned on earlier launch windows only."""

import numpy as np
from synthetic_shop import shop

from recft_utils.evaluation import build_task, evaluate, temporal_split
from recft_utils.models import lexical_ranker
from recft_utils.models.lexical_ranker import FEATURES, LexicalRanker, fit_listwise


def test_listwise_weights_follow_the_feature_that_predicts_purchases():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 20, 2))  # customers x candidates x (signal, noise)
    bought = np.zeros((300, 20))
    bought[np.arange(300), (features[:, :, 0] + 0.3 * rng.normal(size=(300, 20))).argmax(axis=1)] = 1
    weights = fit_listwise([(features, bought)], l2=0.01)
    assert weights[0] > 1.0 and abs(weights[1]) < 0.3 * weights[0]
    assert abs(fit_listwise([(features, bought)], l2=100.0)[0]) < 0.1 * weights[0]  # L2 shrinks it


def test_a_shop_without_earlier_launch_windows_gets_equal_weights():
    from recft_utils.datasets.preparation import catalogue_titles

    interactions = shop()
    test = build_task(interactions, temporal_split(interactions, 20, 20), "test")
    ranker = LexicalRanker(catalogue_titles(interactions), window_days=200).fit(test)
    assert ranker.training == {"windows": 0, "lists": 0} and (ranker.weights == 1).all()
    assert ranker.score(test.eval_rows[:2]).shape == (2, len(test.items))


def test_the_ranker_learns_only_from_windows_before_the_task_and_ranks_new_products(sample, monkeypatch):
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.models import Random

    interactions, valid, _ = sample
    seen = []
    original = lexical_ranker.build_task
    monkeypatch.setattr(
        lexical_ranker,
        "build_task",
        lambda data, split, window: seen.append((data["timestamp"].max(), split.end)) or original(data, split, window),
    )
    ranker = LexicalRanker(catalogue_titles(interactions), l2=1.0).fit(valid)
    assert ranker.training["windows"] >= 1 and len(seen) == 4
    assert all(last < valid.start and end <= valid.start for last, end in seen)  # nothing from the window itself
    assert list(ranker.feature_weights().index) == list(FEATURES) and np.isfinite(ranker.weights).all()
    cold = evaluate(ranker, valid, views=("cold",))["cold"]["ndcg"].mean()
    random = evaluate(Random(0).fit(valid), valid, views=("cold",))["cold"]["ndcg"].mean()
    assert cold > random


def test_the_test_windows_ranker_reuses_the_launch_windows_it_shares_with_validation(sample, monkeypatch):
    from recft_utils.datasets.preparation import catalogue_titles

    interactions, valid, test = sample
    titles = catalogue_titles(interactions)
    monkeypatch.setattr(lexical_ranker, "_LAUNCHES", lexical_ranker._RecentLaunches())
    built = []
    original = lexical_ranker.launch_lists
    monkeypatch.setattr(
        lexical_ranker, "launch_lists", lambda window, *a: built.append(window.start) or original(window, *a)
    )
    LexicalRanker(titles, l2=1.0).fit(valid)
    shared = LexicalRanker(titles, l2=1.0).fit(test)
    assert len(built) == 5  # four before validation, and the validation window itself before the test window
    monkeypatch.setattr(lexical_ranker, "_LAUNCHES", lexical_ranker._RecentLaunches())
    alone = LexicalRanker(titles, l2=1.0).fit(test)
    assert np.array_equal(shared.weights, alone.weights) and np.array_equal(shared.scale, alone.scale)
