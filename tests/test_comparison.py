"""Comparison tables: step 1's targets."""

import pandas as pd

from recft_utils.evaluation.comparison import target_table


def test_targets_name_the_best_baseline_per_view_with_its_ndcg_and_coverage():
    baselines = pd.DataFrame(
        [
            {"model": "random", "view": "discovery", "ndcg@10": 0.9, "coverage@10": 1.0},  # never the bar
            {"model": "EASE", "view": "discovery", "ndcg@10": 0.10, "coverage@10": 0.30},
            {"model": "popularity", "view": "discovery", "ndcg@10": 0.08, "coverage@10": 0.01},
            {"model": "EASE", "view": "all", "ndcg@10": 0.20, "coverage@10": 0.25},
            {"model": "titles", "view": "cold", "ndcg@10": 0.05, "coverage@10": 0.50},
        ]
    )
    targets = target_table(baselines, 0.10).set_index("view")
    assert list(targets.index) == ["all", "discovery", "cold"]
    assert targets.loc["discovery", "best baseline"] == "EASE"
    assert targets.loc["discovery", "target NDCG@10"] == 0.11 and targets.loc["discovery", "target coverage@10"] == 0.3
    assert targets.loc["cold", "its coverage@10"] == 0.5 and pd.isna(targets.loc["all", "target gain"])


def test_the_target_verdict_needs_the_gain_and_no_less_coverage():
    from recft_utils.evaluation.comparison import target_verdict, verdict_lines

    results = pd.DataFrame(
        {
            "model": ["bar", "text", "blend", "bar", "text", "blend", "text"],
            "view": ["discovery"] * 3 + ["cold"] * 3 + ["discovery"],
            "ndcg@10": [0.10, 0.13, 0.115, 0.20, 0.19, 0.30, 0.11],  # "text" has two seeds on discovery: mean 0.12
            "coverage@10": [0.5, 0.6, 0.4, 0.2, 0.2, 0.3, 0.6],
        }
    )
    targets = pd.DataFrame(
        {
            "view": ["all", "discovery", "cold"],
            "best baseline": "bar",
            "target gain": [None, 0.10, 0.10],
            "target coverage@10": [None, 0.5, 0.2],
        }
    ).set_index("view")
    verdict = target_verdict(results, targets, ["text", "blend", "text", "bar"]).set_index(["view", "model"])
    assert list(verdict.index) == [("discovery", "text"), ("discovery", "blend"), ("cold", "text"), ("cold", "blend")]
    assert abs(verdict.loc[("discovery", "text"), "relative change"] - 0.20) < 1e-9
    assert verdict["met"].tolist() == [True, False, False, True]  # blend on discovery: the gain, less coverage
    lines = verdict_lines(verdict.reset_index())
    assert lines[0].startswith("discovery: the best text model, text, is +20.0% against bar") and lines[0].endswith(
        ": met"
    )
    assert lines[1].startswith("cold: the best text model, blend, is +50.0%") and lines[1].endswith(": met")
