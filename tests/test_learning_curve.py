"""The learning curve's parts on the hand-made shop: customer samples and the unshared-title cold view."""

import numpy as np
import pandas as pd
import pytest

from recft_utils.benchmark.learning_curve import (
    UNSHARED,
    customer_sample,
    learning_curve,
    unshared_cold_items,
    unshared_view,
)
from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task, evaluate, temporal_split
from recft_utils.models.baselines import TitleProfile
from synthetic_shop import TITLES, shop


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
    cold = list(task.items[task.n_warm:])
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
        learning_curve(interactions, pd.DataFrame(np.eye(9), index=list(TITLES)), pd.Series(TITLES),
                       fractions=(0.5, 1.5))


def test_the_curve_pools_windows_and_says_where_the_interval_lies():
    from recft_utils.evaluation.learning_curve import curve_differences, curve_sentences, curve_table

    frames = []
    for fraction, gain in ((0.1, 0.05), (1.0, 0.0)):
        for model, shift in (("lm", gain), ("words", 0.0)):
            for window in (1, 2):
                frames.append(pd.DataFrame({"fraction": fraction, "window": window, "model": model, "seed": 0,
                                            "family": "x", "view": "discovery",
                                            "user_id": [f"u{i}" for i in range(200)],
                                            "ndcg": np.linspace(0, 0.2, 200) + shift}))
    scores = pd.concat(frames, ignore_index=True)
    table = curve_table(scores, samples=100)
    assert set(table["fraction"]) == {0.1, 1.0} and (table["n_users"] == 400).all()  # two windows pooled
    differences = curve_differences(scores, [("lm", "words"), ("lm", "missing")], samples=100)
    assert len(differences) == 2  # the pair with a model that was not trained is left out
    assert differences.set_index("fraction").loc[0.1, "difference"] == pytest.approx(0.05)
    [sentence] = curve_sentences(differences)
    assert sentence == ("discovery, lm minus words: interval above 0 at 10% (+0.0500); "
                        "containing 0 at 100% (+0.0000).")
