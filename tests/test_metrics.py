"""Each metric against hand-computed cases."""

import numpy as np
import pytest

from recft_utils.evaluation import metrics

INF = -np.inf


def case():
    # one user, 5 items; ranking by score: item 4, 2, 0, 3, 1
    scores = np.array([[0.5, 0.1, 0.8, 0.3, 0.9]])
    truth = np.array([[True, False, True, False, False]])  # relevant: items 0 and 2
    return scores, truth


def test_top_k_orders_best_first_and_breaks_ties_by_index():
    scores = np.array([[1.0, 3.0, 3.0, 2.0]])
    assert metrics.top_k(scores, 3).tolist() == [[1, 2, 3]]


def test_ndcg_by_hand():
    scores, truth = case()
    # hits at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4); ideal = 1/log2(2) + 1/log2(3)
    expected = (1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert metrics.ndcg_at_k(scores, truth, 3)[0] == pytest.approx(expected)
    # top 1 is item 4, not relevant
    assert metrics.ndcg_at_k(scores, truth, 1)[0] == 0.0


def test_ndcg_is_one_for_a_perfect_ranking_and_caps_the_ideal_at_k():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]])
    truth = np.array([[True, True, True, False]])
    assert metrics.ndcg_at_k(scores, truth, 2)[0] == pytest.approx(1.0)


def test_recall_hit_rate_and_reciprocal_rank_by_hand():
    scores, truth = case()
    assert metrics.recall_at_k(scores, truth, 2)[0] == pytest.approx(0.5)
    assert metrics.recall_at_k(scores, truth, 3)[0] == pytest.approx(1.0)
    assert metrics.hit_rate_at_k(scores, truth, 1)[0] == 0.0
    assert metrics.hit_rate_at_k(scores, truth, 2)[0] == 1.0
    assert metrics.reciprocal_rank(scores, truth)[0] == pytest.approx(0.5)


def test_excluded_items_are_never_hits():
    scores = np.array([[INF, 1.0, 0.5]])
    truth = np.array([[True, False, False]])
    assert metrics.ndcg_at_k(scores, truth, 3)[0] == 0.0
    assert metrics.reciprocal_rank(scores, truth)[0] == 0.0


def test_vectorised_over_users():
    scores = np.array([[0.9, 0.1], [0.1, 0.9]])
    truth = np.array([[True, False], [True, False]])
    assert metrics.ndcg_at_k(scores, truth, 1).tolist() == [1.0, 0.0]
    assert metrics.reciprocal_rank(scores, truth).tolist() == [1.0, 0.5]


def test_coverage_counts_distinct_recommended_items():
    scores = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 3.0, 2.0, 1.0]])
    assert metrics.catalogue_coverage(scores, 2) == pytest.approx(3 / 4)


def test_bootstrap_interval_contains_the_mean_and_is_deterministic():
    values = np.random.default_rng(0).random(500)
    low, high = metrics.bootstrap_interval(values, samples=300, seed=1)
    assert low < values.mean() < high
    assert (low, high) == metrics.bootstrap_interval(values, samples=300, seed=1)
    assert high - low < 0.1


def test_top_k_takes_ties_at_the_cut_off_by_lower_index():
    # integer scores tie often: the reference is a stable full sort (lower index first among equals)
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 30)).astype(float)
    scores[:5] = 1.0  # whole rows tied
    scores[5, :10] = INF
    for k in (1, 3, 10, 30):
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        assert metrics.top_k(scores, k).tolist() == expected.tolist()


def test_paired_difference_by_hand():
    first, second = np.array([0.5, 0.2, 0.9]), np.array([0.4, 0.2, 0.6])
    result = metrics.paired_difference(first, second, samples=500)
    assert result["difference"] == pytest.approx((0.1 + 0.0 + 0.3) / 3)
    assert result["low"] <= result["difference"] <= result["high"]
    assert result["low"] >= 0.0  # every customer's difference is >= 0
    assert result["n_users"] == 3
    with pytest.raises(ValueError, match="same customers"):
        metrics.paired_difference(first, second[:2])


def test_ndcg_from_hits_is_the_formula_of_ndcg_at_k():
    from recft_utils.evaluation.metrics import ndcg_from_hits

    # hits at ranks 1 and 3 of 3, two relevant items: (1 + 1/log2(4)) / (1 + 1/log2(3))
    assert ndcg_from_hits(np.array([[True, False, True]]), np.array([2]))[0] == pytest.approx(
        (1 + 0.5) / (1 + 1 / np.log2(3))
    )
    assert ndcg_from_hits(np.array([[False, False]]), np.array([0]))[0] == 0.0  # nothing relevant: 0, not NaN
    rng = np.random.default_rng(0)
    scores, truth = rng.normal(size=(50, 30)), rng.random((50, 30)) < 0.1
    hits = np.take_along_axis(truth, metrics.top_k(scores, 10), axis=1)
    np.testing.assert_allclose(ndcg_from_hits(hits, truth.sum(axis=1)), metrics.ndcg_at_k(scores, truth, 10))


def test_top_k_is_a_stable_sort_on_random_ties_and_minus_inf():
    rng = np.random.default_rng(3)
    scores = np.floor(rng.random((40, 300)) * 4)  # a few distinct values: many ties at the cut-off
    scores[:, 200:] = -np.inf
    scores[:5] = -np.inf  # rows with nothing recommendable
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert np.array_equal(metrics.top_k(scores, 10), expected)


def test_top_k_refuses_nan_scores_with_a_clear_error():
    with pytest.raises(ValueError, match="NaN"):
        metrics.top_k(np.array([[1.0, np.nan, 3.0, 2.0]]), 2)


def test_ranking_metrics_are_the_four_functions_from_one_ranking():
    rng = np.random.default_rng(4)
    scores = np.floor(rng.random((30, 200)) * 6)
    scores[:, 150:] = -np.inf
    truth = rng.random((30, 200)) < 0.05
    ranked = metrics.ranking_metrics(scores, truth, k=10)
    assert np.array_equal(ranked["ndcg"], metrics.ndcg_at_k(scores, truth, 10))
    assert np.array_equal(ranked["recall"], metrics.recall_at_k(scores, truth, 10))
    assert np.array_equal(ranked["hit_rate"], metrics.hit_rate_at_k(scores, truth, 10))
    assert np.array_equal(ranked["rr"], metrics.reciprocal_rank(scores, truth))
    assert np.array_equal(ranked["top"], metrics.top_k(scores, 10))
    assert np.array_equal(ranked["shown"], np.isfinite(np.take_along_axis(scores, ranked["top"], axis=1)))
