"""Word-overlap models: BM25, the lexical twin's vectors, and intervals that resample products too."""

import numpy as np
import pandas as pd
import pytest
from synthetic_shop import TITLES, shop

from recft_utils.evaluation import build_task, evaluate, temporal_split
from recft_utils.evaluation.metrics import ndcg_at_k, ndcg_item_gains, two_way_interval
from recft_utils.evaluation.rolling_origin import decision_interval, item_gain_scores, paired_comparison, pooled_verdict
from recft_utils.models.baselines import TitleNeighbourPopularity, TitleProfile
from recft_utils.models.blend import blend_family
from recft_utils.text.lexical import bm25_matrices, lexical_item_vectors


def test_bm25_scores_match_the_formula_by_hand():
    titles = ["red tea mug", "blue tea mug", "desk lamp lamp"]
    queries, documents = bm25_matrices(titles, k1=1.2, b=0.75)
    scores = (queries @ documents.T).toarray()
    # "lamp" in title 3: df 1 of 3, tf 2, length 3 against a mean of 3
    idf = np.log1p((3 - 1 + 0.5) / (1 + 0.5))
    lamp = idf * 2 * 2.2 / (2 + 1.2)
    desk = idf * 1 * 2.2 / (1 + 1.2)
    assert scores[2, 2] == pytest.approx(lamp + desk)
    # "tea" and "mug" are shared: title 1 scores title 2 on those two words only
    shared = np.log1p((3 - 2 + 0.5) / (2 + 0.5)) * 2.2 / (1 + 1.2)
    assert scores[0, 1] == pytest.approx(2 * shared)
    assert scores[0, 2] == 0.0


def test_lexical_item_vectors_have_the_encoder_width_and_unit_length():
    titles = pd.Series(TITLES)
    vectors = lexical_item_vectors(titles, dim=32)
    assert vectors.shape == (len(titles), 32) and list(vectors.index) == list(titles.index)
    assert np.allclose(np.linalg.norm(vectors.to_numpy(), axis=1), 1.0, atol=1e-5)
    similarity = vectors.to_numpy() @ vectors.to_numpy().T
    ids = list(titles.index)
    # the SVD keeps word overlap: mugs are closer to mugs than to lamps
    assert similarity[ids.index("mug-red"), ids.index("mug-blue")] > similarity[ids.index("mug-red"), ids.index("lamp")]
    assert lexical_item_vectors(titles, dim=32).equals(vectors)  # seeded


@pytest.fixture(scope="module")
def test_task():
    interactions = shop()
    return interactions, build_task(interactions, temporal_split(interactions, 20, 20), "test")


@pytest.mark.parametrize("weighting", ["tfidf", "bm25", "encoder"])
def test_title_models_rank_new_products_with_each_representation(test_task, weighting):
    interactions, task = test_task
    titles = pd.Series(TITLES)
    if weighting == "encoder":
        weighting = lexical_item_vectors(titles, dim=16)  # any dense vectors stand in for the encoder's
    for model in (TitleNeighbourPopularity(titles, 2, 30, weighting), TitleProfile(titles, weighting)):
        model.fit(task)
        assert model.family == ("text-frozen" if isinstance(weighting, pd.DataFrame) else "lexical")
        cold = evaluate(model, task, views=("cold",))["cold"]
        assert len(cold) and np.isfinite(cold["ndcg"]).all()


@pytest.mark.parametrize("weighting", ["tfidf", "bm25"])
def test_title_models_give_the_same_numbers_chunked_and_for_new_products_alone(test_task, weighting, monkeypatch):
    from recft_utils.models import baselines

    _, task = test_task
    titles = pd.Series(TITLES)
    whole = TitleNeighbourPopularity(titles, 2, 30, weighting).fit(task).counts
    rows = task.eval_rows[:4]
    profile = TitleProfile(titles, weighting).fit(task)
    assert np.array_equal(profile.score(rows, task.n_warm), profile.score(rows)[:, task.n_warm :])
    monkeypatch.setattr(baselines, "SIMILARITY_CELLS", task.n_warm)  # one new product at a time
    fresh = build_task(*test_task[:1], temporal_split(test_task[0], 20, 20), "test")  # no cached neighbours
    chunked = TitleNeighbourPopularity(titles, 2, 30, weighting).fit(fresh)
    assert np.array_equal(chunked.counts, whole)
    assert np.array_equal(chunked.score(rows, fresh.n_warm), chunked.score(rows)[:, fresh.n_warm :])


def test_blend_families():
    assert blend_family("classical", "classical") == "classical"
    assert blend_family("lexical", "classical") == "lexical"
    assert blend_family("text-frozen", "text-frozen") == "text-frozen"
    assert blend_family("text-frozen", "classical") == "blend"


def test_item_gains_add_up_to_ndcg():
    rng = np.random.default_rng(0)
    scores, truth = rng.random((50, 30)), rng.random((50, 30)) < 0.1
    truth[:, 0] = True
    rows, columns, gains = ndcg_item_gains(scores, truth, k=5)
    assert truth[rows, columns].all() and len(rows) == truth.sum()
    assert np.allclose(np.bincount(rows, gains, minlength=50), ndcg_at_k(scores, truth, 5))


def test_evaluate_splits_the_cold_view_by_product(test_task):
    interactions, task = test_task
    per_user = evaluate(TitleProfile(pd.Series(TITLES)).fit(task), task)
    gains = item_gain_scores(per_user, "m", "lexical", 0, 1)
    assert set(gains["item_id"]) <= set(task.items[task.n_warm :])
    by_user = gains.groupby("user_id")["gain"].sum()
    cold = per_user["cold"].set_index("user_id")["ndcg"]
    assert np.allclose(by_user.reindex(cold.index).to_numpy(), cold.to_numpy())


def test_the_two_way_interval_is_wider_when_one_product_carries_the_result():
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(300), 2)
    items = np.tile([0, 1], 300) + 2 * (np.arange(600) % 10 >= 2)  # 4 products, every customer buys two
    # one product is found by the model for everybody, the others for nobody: a product effect
    values = np.where(items == 0, 0.5, 0.0) + rng.normal(0, 0.01, 600)
    low, high = two_way_interval(users, items, values, samples=300)
    mean = values.sum() / 300
    assert low < mean < high
    from recft_utils.evaluation.metrics import bootstrap_interval

    per_user = np.bincount(users, values)
    c_low, c_high = bootstrap_interval(per_user, 300)
    assert high - low > 3 * (c_high - c_low)
    # every weight 1: the plain mean
    assert two_way_interval(users, items, np.full(600, 0.25), samples=50) == pytest.approx((0.5, 0.5))


def _gains(model, values, items):
    return pd.DataFrame(
        {
            "window": 1,
            "model": model,
            "family": "x",
            "seed": 0,
            "view": "cold",
            "user_id": [f"u{i}" for i in range(len(values))],
            "item_id": items,
            "gain": values,
        }
    )


def test_the_verdict_compares_with_the_twin_and_decides_on_the_wider_interval():
    n = 200
    rng = np.random.default_rng(2)
    items = np.where(np.arange(n) % 10 == 0, "hit", "other")
    base = rng.random(n) * 0.2
    lm = base + np.where(items == "hit", 0.5, 0.0)  # the gain sits on one product of 2
    frames = []
    for model, family, values in (
        ("lm", "text-frozen", lm),
        ("words", "lexical", base),
        ("ease", "classical", base * 0.5),
    ):
        frames.append(
            pd.DataFrame(
                {
                    "window": 1,
                    "model": model,
                    "family": family,
                    "seed": 0,
                    "view": "cold",
                    "user_id": [f"u{i}" for i in range(n)],
                    "ndcg": values,
                }
            )
        )
    scores = pd.concat(frames, ignore_index=True)
    gains = pd.concat([_gains("lm", lm, items), _gains("words", base, items), _gains("ease", base * 0.5, items)])
    verdict = pooled_verdict(scores, {"cold": ["lm"]}, samples=300, twins={"lm": "words"}, gains=gains)
    assert list(verdict["against"]) == ["lexical twin", "best lexical", "best classical"]
    twin = verdict.iloc[0].to_dict()
    assert twin["baseline"] == "words" and np.isfinite(twin["low_two_way"])
    assert twin["high_two_way"] - twin["low_two_way"] > twin["high"] - twin["low"]  # products resampled too
    assert twin["low"] > 0 and not twin["met"]  # per customer it looks won; two ways, one product can be all of it
    assert decision_interval(twin)[0] == twin["low_two_way"]
    table = paired_comparison(scores, "lm", "words", "discovery" if False else "cold", samples=50)
    assert table["low_two_way"].isna().all()  # no gains given: customers only


def test_a_cold_only_evaluation_scores_only_buyers_of_new_products_and_gives_the_same_numbers(test_task):
    _, task = test_task
    model = TitleProfile(pd.Series(TITLES), "tfidf").fit(task)
    scored = []
    original = model.score
    model.score = lambda rows, *a: scored.append(len(rows)) or original(rows, *a)
    alone = evaluate(model, task, views=("cold",))["cold"]
    assert sum(scored) == len(alone) < len(task.eval_rows)  # nobody scored only to be dropped
    pd.testing.assert_frame_equal(alone, evaluate(model, task)["cold"])
