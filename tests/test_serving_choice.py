"""The serving rule: a costlier candidate needs a margin over every cheaper one on validation."""

import json

import numpy as np
import pandas as pd
import pytest

from recft_utils.errors import ParameterError
from recft_utils.experiments.serving_choice import (
    ServingCandidate,
    choose_served_model,
    served_from_table,
    serving_records,
    serving_sentence,
)

pytestmark = pytest.mark.unit

CUSTOMERS = pd.Index([f"c{i}" for i in range(400)], name="user_id")


def _candidate(key, scores, family="text-frozen"):
    return ServingCandidate(key, f"model {key}", family, pd.Series(scores, index=CUSTOMERS))


def _base(seed=0):
    return np.random.default_rng(seed).random(len(CUSTOMERS)) * 0.3


def test_a_gain_inside_noise_goes_to_the_cheaper_model():
    base = _base()
    noise = np.random.default_rng(1).normal(0, 0.05, len(CUSTOMERS))
    noise -= noise.mean()  # higher on average by exactly 0.001, far inside the noise
    chosen, table = choose_served_model(
        [_candidate("frozen", base + 0.001 + noise), _candidate("classical", base, "classical")]
    )
    assert chosen == "classical"
    assert list(table["key"]) == ["classical", "frozen"]  # cheapest first, whatever the order given
    row = table.set_index("key").loc["frozen"]
    assert row["valid_ndcg@10"] > table.set_index("key").loc["classical", "valid_ndcg@10"]
    assert row["low"] < 0 < row["high"] and not row["eligible"]
    assert "(validation discovery NDCG@10 0.1" in serving_sentence(
        table
    ) and "the cheapest candidate" in serving_sentence(table)


def test_a_costlier_model_needs_a_margin_over_every_cheaper_one():
    base = _base()
    candidates = [
        _candidate("classical", base, "classical"),
        _candidate("frozen", base + 0.01),
        _candidate("blend", base + 0.03, "blend"),
        _candidate("top_k", base + 0.02, "text-fine-tuned"),
    ]
    chosen, table = choose_served_model(candidates)
    assert chosen == "blend"
    top_k = table.set_index("key").loc["top_k"]
    assert top_k["against"] == "model blend" and top_k["difference"] == pytest.approx(-0.01)
    assert not top_k["eligible"]
    assert table["served"].sum() == 1
    sentence = serving_sentence(table)
    assert sentence.startswith("Step 4 serves model blend") and "model top_k -0.0100" in sentence


def test_the_saved_table_gives_back_the_same_choice():
    base = _base()
    chosen, table = choose_served_model([_candidate("classical", base, "classical"), _candidate("frozen", base + 0.02)])
    records = json.loads(json.dumps(serving_records(table)))  # strict JSON: no NaN
    assert records[0]["low"] is None and records[0]["against"] is None
    assert served_from_table(records) == chosen == "frozen"
    assert served_from_table(records[:1]) == "classical"


def test_unknown_or_repeated_candidates_are_refused():
    base = _base()
    with pytest.raises(ParameterError, match="adapter"):
        choose_served_model([_candidate("adapter", base)])
    with pytest.raises(ParameterError, match="distinct"):
        choose_served_model([_candidate("frozen", base), _candidate("frozen", base)])
    with pytest.raises(ParameterError, match="no validation customer"):
        other = ServingCandidate("blend", "b", "blend", pd.Series([0.1], index=["someone else"]))
        choose_served_model([_candidate("frozen", base), other])


def test_step3_result_states_the_served_model_the_verdict_and_where_fine_tuning_pays():
    from recft_utils.config import project_root
    from recft_utils.evaluation.rolling_origin import read_reference
    from recft_utils.reporting.chapter_result import step3_result

    base = _base()
    _, table = choose_served_model([_candidate("classical", base, "classical"), _candidate("frozen", base + 0.02)])
    reference = read_reference(project_root() / "docs" / "benchmarks" / "rolling.json")  # the committed benchmark
    pooled = {
        "view": "discovery",
        "baseline": "two-tower (text)",
        "model_ndcg@10": 0.1,
        "baseline_ndcg@10": 0.1,
        "relative": 0.0,
        "low": -0.01,
        "high": 0.01,
        "n_users": 100,
    }
    curve = {
        "dataset": "online-retail",
        "differences": [
            {
                **pooled,
                "model": "two-tower (text), top layer fine-tuned",
                "fraction": 0.1,
                "difference": 0.02,
                "low": 0.01,
                "high": 0.03,
            },
            {**pooled, "model": "two-tower (words)", "fraction": 0.1, "difference": 0.0},
        ],
    }
    lines = step3_result(table, "online-retail", reference, None, curve)
    assert lines[0] == serving_sentence(table)
    assert any(line.startswith("discovery: the best language-model model") for line in lines)
    assert lines[-1] == (
        "discovery, two-tower (text), top layer fine-tuned minus two-tower (text): interval above 0 at 10% (+0.0200)."
    )
    other = step3_result(table, "synthetic:100:1000", reference, None, curve)
    assert len(other) == 2 and "No rolling-origin benchmark" in other[1]
