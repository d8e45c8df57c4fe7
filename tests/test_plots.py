"""Plots: what a reader must be able to read on them."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from recft_utils import plots  # noqa: E402


def test_dots_on_top_of_each_other_share_one_label():
    points = [(1, 0.85, 0.083), (2, 0.87, 0.0832), (3, 8.0, 0.083), (4, 0.85, 0.12)]
    assert plots.label_groups(points) == [([1, 2], 0.85, 0.083), ([3], 8.0, 0.083), ([4], 0.85, 0.12)]
    assert plots.label_groups([]) == []


def test_every_model_of_the_quality_cost_plot_has_a_readable_number():
    summary = pd.DataFrame({"model": ["a", "b", "c"], "view": "discovery", "train_seconds": [0.85, 0.87, 5.0],
                            "ndcg_mean": [0.083, 0.083, 0.1], "ndcg_min": 0.08, "ndcg_max": 0.11})
    figure = plots.quality_cost(summary, views=("discovery",))
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert sorted(labels) == ["1, 2", "3"]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["1 a", "2 b", "3 c"]


def test_segments_below_the_group_size_rule_are_not_drawn_as_results():
    table = pd.DataFrame({"country": ["UK", "Germany", "Iceland"], "customers": [900, 60, 1],
                          "ndcg": [0.1, 0.12, 1.0], "low": [0.09, 0.08, 1.0], "high": [0.11, 0.16, 1.0],
                          "too_small": [False, False, True]})
    axes = plots.segment_results(table, "country").axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["UK (900)", "Germany (60)"]
    assert len(axes.patches) == 2 and axes.get_xlim()[1] < 0.5  # the one-customer country does not set the axis
    assert "1 smaller segment not drawn" in axes.get_title()
