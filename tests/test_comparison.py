"""Comparison tables: step 1's targets."""

import pandas as pd

from recft_utils.evaluation.comparison import target_table


def test_targets_name_the_best_baseline_per_view_with_its_ndcg_and_coverage():
    baselines = pd.DataFrame([
        {"model": "random", "view": "discovery", "ndcg@10": 0.9, "coverage@10": 1.0},  # never the bar
        {"model": "EASE", "view": "discovery", "ndcg@10": 0.10, "coverage@10": 0.30},
        {"model": "popularity", "view": "discovery", "ndcg@10": 0.08, "coverage@10": 0.01},
        {"model": "EASE", "view": "all", "ndcg@10": 0.20, "coverage@10": 0.25},
        {"model": "titles", "view": "cold", "ndcg@10": 0.05, "coverage@10": 0.50},
    ])
    targets = target_table(baselines, 0.10).set_index("view")
    assert list(targets.index) == ["all", "discovery", "cold"]
    assert targets.loc["discovery", "best baseline"] == "EASE"
    assert targets.loc["discovery", "target NDCG@10"] == 0.11 and targets.loc["discovery", "target coverage@10"] == 0.3
    assert targets.loc["cold", "its coverage@10"] == 0.5 and pd.isna(targets.loc["all", "target gain"])
