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


def test_two_challengers_are_judged_with_holm_s_correction_and_the_better_passing_one_wins():
    import numpy as np
    import pandas as pd

    from recft_utils.lifecycle.promotion import choose_challenger

    rng = np.random.default_rng(0)
    users = np.arange(400)
    base = rng.uniform(0, 0.2, len(users))
    champion = pd.DataFrame({"user_id": users, "ndcg": base})
    strong = pd.DataFrame({"user_id": users, "ndcg": base + rng.uniform(0, 0.02, len(users))})  # better everywhere
    weak = pd.DataFrame({"user_id": users, "ndcg": base + rng.normal(0, 0.02, len(users))})  # noise only
    decision = choose_challenger(champion, {"scratch": strong, "warm start": weak}, alpha=0.05)
    assert decision["decision"] == "promote" and decision["challenger"] == "scratch"
    tests = decision["tests"]
    assert tests["scratch"]["holm_alpha"] == 0.025  # the smaller p-value meets alpha / 2
    assert decision["gain"] == tests["scratch"]["gain"] > 0 and tests["warm start"]["decision"] == "keep"
    kept = choose_challenger(champion, {"scratch": weak, "warm start": weak.assign(ndcg=weak["ndcg"] - 0.001)})
    assert kept["decision"] == "keep" and kept["challenger"] is None and "no challenger passes" in kept["reason"]
    # a challenger no different from the champion does not stop a better one from passing
    borderline = {"a": champion.assign(ndcg=champion["ndcg"] + 0.0), "b": strong}
    assert choose_challenger(champion, {"b": strong}, alpha=0.05)["decision"] == "promote"
    assert choose_challenger(champion, borderline, alpha=0.05)["challenger"] == "b"


def test_holm_s_rule_steps_down_and_stops_at_the_first_failure():
    from recft_utils.lifecycle.promotion import holm_passing

    tests = {"a": {"p_value": 0.01, "gain": 0.01}, "b": {"p_value": 0.04, "gain": 0.02}}
    assert holm_passing(tests, alpha=0.05) == (["a", "b"], {"a": 0.025, "b": 0.05})
    assert holm_passing(tests, alpha=0.035)[0] == ["a"]  # a's 0.01 < 0.0175, b's 0.04 above its 0.035
    assert holm_passing({**tests, "a": {"p_value": 0.03, "gain": 0.01}}, alpha=0.05)[0] == []  # a fails: stop
    assert holm_passing(tests, alpha=0.05, min_gain=0.015)[0] == ["b"]  # below the threshold but too small a gain
