"""Per-segment results and the profile of a model's recommendations (step 5), on the synthetic shop."""

import numpy as np

from recft_utils.evaluation import evaluate, segments
from recft_utils.models import EASE, Popularity


def test_per_customer_scores_match_the_protocol(shop_sample):
    _, _, test = shop_sample
    model = EASE().fit(test)
    top = segments.top_k_lists(model, test, k=10, view="discovery")
    mine = segments.per_customer(top, test).set_index("user_id")
    protocol = evaluate(model, test, views=("discovery",))["discovery"].set_index("user_id")
    assert set(mine.index) == set(protocol.index)
    assert np.allclose(mine.loc[protocol.index, "ndcg"], protocol["ndcg"])
    assert np.allclose(mine.loc[protocol.index, "recall"], protocol["recall"])
    assert np.allclose(mine.loc[protocol.index, "hit"], protocol["hit_rate"])


def test_customer_segments_cover_every_evaluated_customer(shop_sample):
    _, _, test = shop_sample
    table = segments.customer_segments(test)
    assert set(table.index) == set(test.users[test.eval_rows])
    one = table["orders_before"] == 1
    assert (table.loc[one, "tenure"] == "one earlier order").all() and (table.loc[~one, "tenure"] == "returning").all()
    assert (table.loc[one, "activity"] == "1 order").all() and table["activity"].notna().all()
    # more orders never means a lower activity bin
    ordered = table.sort_values("orders_before")
    assert ordered["activity"].cat.codes.is_monotonic_increasing
    assert table["activity"].value_counts().max() < 0.5 * len(table)


def test_small_segments_are_flagged_not_hidden(shop_sample):
    _, _, test = shop_sample
    scores = segments.per_customer(segments.top_k_lists(EASE().fit(test), test), test)
    table = segments.segment_table(scores, segments.customer_segments(test), "country", min_customers=30, bootstrap=100)
    assert table["customers"].sum() == len(scores)
    assert (table["too_small"] == (table["customers"] < 30)).all() and table["too_small"].any()
    assert ((table["low"] <= table["ndcg"]) & (table["ndcg"] <= table["high"])).all()


def test_popularity_buckets_and_profile(shop_sample):
    _, _, test = shop_sample
    buckets = segments.popularity_buckets(test)
    assert (buckets.iloc[test.n_warm :] == "new").all() and (buckets.iloc[: test.n_warm] != "new").all()
    assert 0.05 < (buckets == "head").sum() / test.n_warm <= 0.1
    popular = segments.top_k_lists(Popularity(None).fit(test), test, view="all")
    profile = segments.recommendation_profile(popular, test)
    assert profile["head_share_recommended"] == 1.0  # all-time popularity only recommends the head
    # the same ten products for everyone: ten of the catalogue
    assert profile["coverage"] <= 10 / len(test.items) + 1e-9 and profile["novelty"] > 0
    recall = segments.item_bucket_recall(popular, test, view="all").set_index("bucket")
    assert recall.loc["new", "recall"] == 0 or np.isnan(recall.loc["new", "recall"])
    assert recall["purchases"].sum() == test.truth.sum()


def test_new_customers_are_scored_with_the_fallback_and_reported_beside_returning_ones(shop_sample):
    _, _, test = shop_sample
    new = segments.new_customer_scores(test, Popularity(30).fit(test))
    window_only = set(test.target["user_id"]) - set(test.users)
    assert set(new["user_id"]) == window_only and len(new) > 0
    assert new["hit"].between(0, 1).all() and (new["recall"] <= new["hit"]).all()
    scores = segments.per_customer(segments.top_k_lists(EASE().fit(test), test), test)
    table = segments.tenure_table(scores, segments.customer_segments(test), new, bootstrap=100).set_index("tenure")
    assert table.loc["new (best-sellers fallback)", "customers"] == len(new)
    assert table["customers"].sum() == len(scores) + len(new)
