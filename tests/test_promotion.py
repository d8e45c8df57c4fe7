"""The champion/challenger rule: a significant gain promotes, noise keeps the champion."""

import numpy as np
import pandas as pd
import pytest

from recft_utils.errors import ParameterError
from recft_utils.lifecycle.promotion import promotion_decision


def scores(values):
    return pd.DataFrame({"user_id": np.arange(len(values)), "ndcg": values})


def test_a_clearly_better_challenger_is_promoted():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 0.3, 500)
    decision = promotion_decision(scores(base), scores(base + rng.uniform(0, 0.05, 500)))
    assert decision["decision"] == "promote" and decision["p_value"] < 0.05 and decision["gain"] > 0
    assert "Wilcoxon" in decision["reason"] and decision["customers"] == 500


def test_noise_keeps_the_champion_even_when_the_mean_is_higher():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 0.3, 60)
    noisy = np.clip(base + rng.normal(0.002, 0.05, 60), 0, 1)
    decision = promotion_decision(scores(base), scores(noisy))
    assert decision["decision"] == "keep" and "could be luck" in decision["reason"]


def test_identical_models_and_a_too_small_gain_keep_the_champion():
    base = scores(np.linspace(0, 0.5, 100))
    assert promotion_decision(base, base)["decision"] == "keep"
    better = scores(np.linspace(0, 0.5, 100) + 0.001)
    decision = promotion_decision(base, better, min_gain=0.01)
    assert decision["decision"] == "keep" and "below the minimum" in decision["reason"]


def test_only_customers_scored_by_both_are_paired():
    champion = scores(np.full(10, 0.1))
    challenger = scores(np.full(10, 0.2)).assign(user_id=np.arange(5, 15))
    assert promotion_decision(champion, challenger)["customers"] == 5
    with pytest.raises(ParameterError, match="champion's scores need the columns user_id and ndcg"):
        promotion_decision(champion.rename(columns={"ndcg": "recall"}), challenger)
