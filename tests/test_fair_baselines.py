"""The fair baselines and the rolling origin, on a small hand-made shop (no dataset mirror needed)."""

import numpy as np
import pandas as pd
import pytest
from synthetic_shop import TITLES, shop

from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task, evaluate, temporal_split
from recft_utils.evaluation.rolling_origin import paired_comparison, rolling_origins, window_table
from recft_utils.evaluation.split import end_data
from recft_utils.models import EASE, Popularity, fair_baselines
from recft_utils.models.baselines import TitleNeighbourPopularity, TitleProfile
from recft_utils.models.blend import ScoreBlend
from recft_utils.text.tfidf import tfidf_matrix


@pytest.fixture(scope="module")
def tasks():
    interactions = shop()
    split = temporal_split(interactions, 20, 20)
    return interactions, split, build_task(interactions, split, "valid"), build_task(interactions, split, "test")


def titles(interactions) -> pd.Series:
    from recft_utils.datasets.preparation import catalogue_titles

    return catalogue_titles(interactions)


def test_tfidf_rows_have_unit_length_and_follow_the_smoothed_idf():
    x = tfidf_matrix(["red mug", "blue mug", "?"]).toarray()
    assert np.allclose(np.linalg.norm(x[:2], axis=1), 1.0)
    assert not x[2].any()  # a title without a word
    # "mug" is in 2 of 3 titles, "red" in 1: idf = ln(4/3) + 1 and ln(4/2) + 1
    red, mug = np.log(4 / 2) + 1, np.log(4 / 3) + 1
    assert x[0].max() / x[0][x[0] > 0].min() == pytest.approx(red / mug)


def test_a_new_product_borrows_the_popularity_of_its_title_neighbours(tasks):
    interactions, _, _, test = tasks
    model = TitleNeighbourPopularity(titles(interactions), neighbours=2, days=30).fit(test)
    column = {item: i for i, item in enumerate(test.items)}
    assert test.n_warm <= column["mug-new"] and test.n_warm <= column["lamp-new"]
    scores = model.score(np.array([0]))[0]
    assert scores[column["mug-new"]] > scores[column["lamp-new"]]  # mugs sell, lamps do not
    assert scores[column["mug-red"]] == Popularity(30).fit(test).counts[column["mug-red"]]


def test_a_customer_profile_prefers_titles_like_what_they_bought(tasks):
    interactions, _, _, test = tasks
    model = TitleProfile(titles(interactions)).fit(test)
    column = {item: i for i, item in enumerate(test.items)}
    mug_buyer = int(np.argmax(test.matrix[:, column["mug-red"]].toarray().ravel()))
    scores = model.score(np.array([mug_buyer]))[0]
    assert scores[column["mug-new"]] > 0.0


def test_fair_baselines_are_tuned_on_the_validation_window_only(tasks, monkeypatch):
    interactions, _, valid, test = tasks
    seen = []
    original = fair_baselines.evaluate_many
    monkeypatch.setattr(
        fair_baselines,
        "evaluate_many",
        lambda models, task, **kw: seen.append(task.window) or original(models, task, **kw),
    )
    tuned = fair_baselines.tune_fair_baselines(valid, titles(interactions))
    assert set(seen) == {"valid"}
    names = [b.name for b in tuned]
    assert names == [
        fair_baselines.EASE_POPULARITY,
        fair_baselines.TITLE_NEIGHBOURS,
        fair_baselines.TITLE_PROFILE_BLEND,
        fair_baselines.BM25_NEIGHBOURS,
        fair_baselines.BM25_PROFILE_BLEND,
        fair_baselines.LEXICAL_RANKER,
    ]
    assert [b.fit(test).family for b in tuned] == ["classical"] + ["lexical"] * 5
    ease_popularity = tuned[0]
    # its grid holds EASE alone (weight 1) and popularity alone (weight 0): the choice is at least as good
    grid = ease_popularity.grid
    assert grid["valid_ndcg@10"].max() >= grid.loc[grid["weight"] == 1.0, "valid_ndcg@10"].max()
    model = ease_popularity.fit(test)
    assert model.name == fair_baselines.EASE_POPULARITY and model.family == "classical"
    assert "cold" not in evaluate(model, test)  # EASE + popularity cannot rank new products


def test_step_3_rebuilds_step_1s_bar_from_its_saved_settings_without_tuning_again(tasks, monkeypatch):
    from recft_utils.experiments.baseline_plan import baseline_records

    interactions, split, valid, test = tasks
    baselines = pd.DataFrame(baseline_records(interactions, split, bootstrap=10, progress=False))
    settings = fair_baselines.saved_settings(baselines, fair_baselines.EASE_POPULARITY)
    tuned = fair_baselines.tune_classical_bar(valid)
    assert settings == tuned.settings
    monkeypatch.setattr(fair_baselines, "evaluate_many", lambda *a, **k: pytest.fail("no tuning when rebuilding"))
    rebuilt = fair_baselines.classical_bar_from(settings)
    assert rebuilt.description == tuned.description and rebuilt.name == tuned.name
    users = np.arange(len(test.users))
    assert np.allclose(rebuilt.fit(test).score(users), tuned.fit(test).score(users))
    with pytest.raises(ParameterError, match="run notebook 01_requirements again"):
        fair_baselines.saved_settings(baselines.drop(columns="settings"), fair_baselines.EASE_POPULARITY)


def test_a_window_without_new_products_falls_back_to_the_first_setting(tasks):
    interactions, _, valid, _ = tasks
    no_new = build_task(
        interactions[interactions["item_id"] != "bag-new"],
        temporal_split(interactions[interactions["item_id"] != "bag-new"], 20, 20),
        "valid",
    )
    assert no_new.n_warm == len(no_new.items)
    tuned = fair_baselines.tune_title_neighbours(no_new, titles(interactions))
    assert tuned.grid["valid_ndcg@10"].isna().all()
    assert tuned.settings == {"neighbours": fair_baselines.NEIGHBOURS[0], "days": fair_baselines.POPULARITY_DAYS[0]}


def test_a_blend_that_silences_the_text_model_leaves_the_cold_view_out(tasks):
    _, _, _, test = tasks
    ease, neighbours = EASE(10).fit(test), TitleNeighbourPopularity(TITLES_SERIES, 2, 30).fit(test)
    assert not ScoreBlend(neighbours, ease, 0.0).scores_cold_items  # only EASE speaks: cold items all tie
    assert ScoreBlend(neighbours, ease, 0.5).scores_cold_items
    assert ScoreBlend(ease, neighbours, 0.0).scores_cold_items
    assert ScoreBlend(neighbours, ease, 0.5).family == "lexical"  # words and IDs, no language model


TITLES_SERIES = pd.Series(TITLES)


def test_end_data_moves_every_window_earlier_and_refuses_dates_outside_the_data(tasks):
    interactions, split, _, _ = tasks
    cut = end_data(interactions, "2020-03-01")
    assert cut["timestamp"].max() < pd.Timestamp("2020-03-01")
    assert temporal_split(cut, 20, 20).test_start < split.test_start
    with pytest.raises(ParameterError, match="outside the data"):
        end_data(interactions, "2019-01-01")
    with pytest.raises(ParameterError, match="must be a date"):
        end_data(interactions, "last tuesday")


def test_a_day_counted_back_from_the_data_end_works_on_any_years(tasks):
    """``-30d`` names the same cut whatever years the data covers: 30 days before the day after its last."""
    interactions = tasks[0]
    last_day = interactions["timestamp"].max().normalize()
    cut = end_data(interactions, "-30d")
    assert cut["timestamp"].max() < last_day - pd.Timedelta(days=29) <= cut["timestamp"].max() + pd.Timedelta(days=7)
    moved = interactions.assign(timestamp=interactions["timestamp"] - pd.DateOffset(years=9))
    assert len(end_data(moved, "-30d")) == len(cut)
    with pytest.raises(ParameterError, match="outside the data"):
        end_data(interactions, "-5000d")


def test_rolling_origins_are_successive_windows_each_with_its_own_validation(tasks):
    interactions = tasks[0]
    origins = rolling_origins(interactions, windows=3, test_days=20, valid_days=20)
    assert [o.number for o in origins] == [1, 2, 3]
    for later, earlier in zip(origins, origins[1:]):
        assert earlier.split.end <= later.split.test_start  # test windows do not overlap
        assert earlier.data_end == str(later.split.test_start.date())
        assert earlier.interactions(interactions)["timestamp"].max() < later.split.test_start


def test_paired_comparison_pools_windows_and_pairs_customers():
    scores = pd.DataFrame(
        {
            "window": [1, 1, 1, 1, 2, 2, 2, 2],
            "user_id": ["a", "b", "a", "b", "a", "c", "a", "c"],
            "model": ["m", "m", "base", "base"] * 2,
            "family": ["text-frozen", "text-frozen", "classical", "classical"] * 2,
            "seed": 0,
            "view": "discovery",
            "ndcg": [0.5, 0.3, 0.4, 0.3, 0.2, 0.6, 0.1, 0.4],
        }
    )
    table = paired_comparison(scores, "m", "base", "discovery", samples=200).set_index("window")
    assert table.loc["1", "difference"] == pytest.approx(0.05)
    assert table.loc["2", "difference"] == pytest.approx(0.15)
    assert table.loc["pooled", "difference"] == pytest.approx(0.1)  # 4 (window, customer) pairs
    assert table.loc["pooled", "n_users"] == 4
    assert window_table(scores, "discovery").loc["m", "pooled"] == pytest.approx(0.4)


@pytest.mark.parametrize("weight", [0.0, 0.2, 0.5, 1.0])
def test_a_blend_never_ranks_a_view_below_its_better_part_that_can_rank_it(shop_sample, weight):
    """On the cold view only the title model can rank: the blend equals it there, or leaves the view out."""
    interactions, _, test = shop_sample
    text, ease = TitleProfile(titles(interactions)).fit(test), EASE(50).fit(test)
    assert test.n_warm < len(test.items)  # the window has new products
    text_cold = evaluate(text, test, views=("cold",))["cold"]["ndcg"].mean()
    blended = evaluate(ScoreBlend(text, ease, weight).fit(test), test, views=("cold",))
    if weight == 0.0:
        assert "cold" not in blended  # EASE alone gives every new product one score: no ranking to report
    else:
        assert blended["cold"]["ndcg"].mean() == pytest.approx(text_cold)


@pytest.mark.parametrize("neighbours", [None, 3])
def test_sparse_item_knn_matches_the_dense_cosine_formula(tasks, neighbours):
    from recft_utils.models import ItemKNN

    test = tasks[3]
    x = (test.matrix > 0).astype(float).toarray()
    co = x.T @ x
    norms = np.sqrt(np.diag(co))
    dense = np.round(co / np.maximum(np.outer(norms, norms), 1e-12), 12)
    np.fill_diagonal(dense, 0.0)
    if neighbours:
        cut = np.partition(dense, -neighbours, axis=0)[-neighbours]
        dense = np.where(dense >= cut[None, :], dense, 0.0)
    model = ItemKNN(neighbours).fit(test)
    assert np.allclose(model.similarity.toarray(), dense)
    assert np.allclose(model.score(np.arange(3)), x[:3] @ dense)
