"""The learning curve's parts on the hand-made shop: customer samples and the unshared-title cold view."""

import numpy as np
import pandas as pd
import pytest
from synthetic_shop import TITLES, shop

from recft_utils.benchmark.learning_curve import (
    UNSHARED,
    customer_sample,
    learning_curve,
    unshared_cold_items,
    unshared_view,
    view_gains,
)
from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task, evaluate, temporal_split
from recft_utils.models.baselines import TitleProfile


def test_a_customer_sample_keeps_whole_customers_and_is_seeded():
    interactions = shop()
    half = customer_sample(interactions, 0.5, seed=3)
    assert half["user_id"].nunique() == 20
    kept = interactions[interactions["user_id"].isin(half["user_id"].unique())]
    assert len(kept) == len(half)  # every interaction of a kept customer
    assert half.equals(customer_sample(interactions, 0.5, seed=3))
    assert customer_sample(interactions, 0.001)["user_id"].nunique() == 1


def test_the_unshared_view_ranks_only_new_products_without_a_known_word():
    interactions = shop()
    titles = pd.Series(TITLES)
    task = build_task(interactions, temporal_split(interactions, 20, 20), "test")
    cold = list(task.items[task.n_warm :])
    # "green tea mug" and "floor lamp" share "tea", "mug", "lamp" with earlier products
    assert unshared_cold_items(task, titles).size == 0
    renamed = titles.copy()
    renamed["lamp-new"] = "wool throw"
    keep = unshared_cold_items(task, renamed)
    assert [cold[i] for i in keep] == ["lamp-new"]
    model = TitleProfile(renamed).fit(task)
    frame = unshared_view(renamed)[UNSHARED](model, task)
    full = evaluate(model, task, views=("cold",))["cold"]
    buyers = set(task.users[task.eval_rows[task.truth[:, task.n_warm + keep[0]].nonzero()[0]]])
    assert set(frame["user_id"]) == buyers and len(frame) <= len(full)
    assert (frame["ndcg"] == 1.0).all()  # the only candidate, ranked first


def test_shares_outside_zero_to_one_are_refused():
    interactions = shop()
    with pytest.raises(ParameterError, match=r"\(0, 1\]"):
        learning_curve(
            interactions, pd.DataFrame(np.eye(9), index=list(TITLES)), pd.Series(TITLES), fractions=(0.5, 1.5)
        )


def test_the_curve_pools_windows_and_says_where_the_interval_lies():
    from recft_utils.evaluation.learning_curve import curve_differences, curve_sentences, curve_table

    frames = []
    for fraction, gain in ((0.1, 0.05), (1.0, 0.0)):
        for model, shift in (("lm", gain), ("words", 0.0)):
            for window in (1, 2):
                frames.append(
                    pd.DataFrame(
                        {
                            "fraction": fraction,
                            "window": window,
                            "model": model,
                            "seed": 0,
                            "family": "x",
                            "view": "discovery",
                            "user_id": [f"u{i}" for i in range(200)],
                            "ndcg": np.linspace(0, 0.2, 200) + shift,
                        }
                    )
                )
    scores = pd.concat(frames, ignore_index=True)
    table = curve_table(scores, samples=100)
    assert set(table["fraction"]) == {0.1, 1.0} and (table["n_users"] == 400).all()  # two windows pooled
    differences = curve_differences(scores, [("lm", "words"), ("lm", "missing")], samples=100)
    assert len(differences) == 2  # the pair with a model that was not trained is left out
    assert differences.set_index("fraction").loc[0.1, "difference"] == pytest.approx(0.05)
    [sentence] = curve_sentences(differences)
    assert sentence == ("discovery, lm minus words: interval above 0 at 10% (+0.0500); containing 0 at 100% (+0.0000).")
    few = differences.assign(n_users=[400, 2], low=0.3, high=0.4)  # two customers: an interval says nothing
    assert curve_sentences(few[few["baseline"] == "words"]) == [
        "discovery, lm minus words: interval above 0 at 10% (+0.0500); too few customers to tell at 100% (2)."
    ]
    assert curve_sentences(few[few["baseline"] == "words"].assign(n_users=3)) == [
        "discovery, lm minus words: too few customers to tell at 10% (3), 100% (3)."
    ]


def test_both_cold_views_keep_their_own_per_product_gains():
    interactions = shop()
    titles = pd.Series(TITLES)
    titles["lamp-new"] = "wool throw"  # one new product without a known word
    task = build_task(interactions, temporal_split(interactions, 20, 20), "test")
    model = TitleProfile(titles).fit(task)
    per_user = evaluate(model, task)
    per_user.update({view: measure(model, task) for view, measure in unshared_view(titles).items()})
    gains = view_gains(per_user, "profile", model.family, 0, 1)
    assert set(gains["view"]) == {"cold", UNSHARED}
    for view in ("cold", UNSHARED):  # each view's gains add up to its own NDCG, customer by customer
        summed = gains[gains["view"] == view].groupby("user_id")["gain"].sum()
        ndcg = per_user[view].set_index("user_id")["ndcg"]
        assert summed.reindex(ndcg.index, fill_value=0.0).to_numpy() == pytest.approx(ndcg.to_numpy())
    assert set(gains.loc[gains["view"] == UNSHARED, "item_id"]) == {"lamp-new"}


def _one_product_carries_it(views=("cold", UNSHARED)):
    """Scores and per-product gains where "lm" beats "words" for every customer, but only through one
    of four products that every customer bought: over customers the interval is above 0, over
    customers and products it is not (a draw without product "a" reverses the sign)."""
    users = [f"u{i}" for i in range(200)]
    lift = np.linspace(0.28, 0.32, 200)
    gains, scores = [], []
    for view in views:
        for model, per_item in (
            ("lm", {"a": lift, "b": 0.0, "c": 0.0, "d": 0.0}),
            ("words", {"a": 0.0, "b": 0.05, "c": 0.05, "d": 0.05}),
        ):
            cells = pd.concat(
                [pd.DataFrame({"user_id": users, "item_id": item, "gain": gain}) for item, gain in per_item.items()],
                ignore_index=True,
            )
            common = {"fraction": 1.0, "window": 1, "model": model, "family": "x", "seed": 0, "view": view}
            gains.append(cells.assign(**common))
            scores.append(
                cells.groupby("user_id", as_index=False)["gain"].sum().rename(columns={"gain": "ndcg"}).assign(**common)
            )
    return pd.concat(scores, ignore_index=True), pd.concat(gains, ignore_index=True)


def test_the_cold_views_decide_on_the_wider_of_the_two_intervals():
    from recft_utils.evaluation.learning_curve import curve_differences, curve_sentences

    scores, gains = _one_product_carries_it()
    discovery = scores[scores["view"] == "cold"].assign(view="discovery")  # no per-product gains there
    scores = pd.concat([scores, discovery], ignore_index=True)
    differences = curve_differences(scores, [("lm", "words")], samples=200, gains=gains).set_index("view")
    assert {"low_two_way", "high_two_way"} <= set(differences.columns)
    for view in ("cold", UNSHARED):  # each cold view with its own gains, under its own name
        row = differences.loc[view]
        assert row["difference"] == pytest.approx(0.15)
        assert row["low"] > 0  # every customer gains ...
        assert row["low_two_way"] < 0 < row["high_two_way"]  # ... but through one product
    assert differences.loc["discovery", ["low_two_way", "high_two_way"]].isna().all()
    sentences = curve_sentences(differences.reset_index())
    assert "cold, lm minus words: interval containing 0 at 100% (+0.1500)." in sentences
    assert f"{UNSHARED}, lm minus words: interval containing 0 at 100% (+0.1500)." in sentences
    assert "discovery, lm minus words: interval above 0 at 100% (+0.1500)." in sentences
    # without gains (an older run) the per-customer interval decides
    older = curve_sentences(curve_differences(scores, [("lm", "words")], samples=200))
    assert "cold, lm minus words: interval above 0 at 100% (+0.1500)." in older
