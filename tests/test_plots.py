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
    summary = pd.DataFrame(
        {
            "model": ["a", "b", "c"],
            "view": "discovery",
            "train_seconds": [0.85, 0.87, 5.0],
            "ndcg_mean": [0.083, 0.083, 0.1],
            "ndcg_min": 0.08,
            "ndcg_max": 0.11,
        }
    )
    figure = plots.quality_cost(summary, views=("discovery",))
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert sorted(labels) == ["1, 2", "3"]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["1 a", "2 b", "3 c"]


def test_fifteen_models_of_the_quality_cost_plot_each_have_their_own_colour_and_marker():
    summary = pd.DataFrame(
        {
            "model": [f"model {n}" for n in range(15)],
            "view": "discovery",
            "train_seconds": range(1, 16),
            "ndcg_mean": 0.1,
            "ndcg_min": 0.09,
            "ndcg_max": 0.11,
        }
    )
    figure = plots.quality_cost(summary, views=("discovery",))
    dots = [line for line in figure.axes[0].lines if line.get_marker() not in ("_", "None", "")]  # not the caps
    styles = {(matplotlib.colors.to_hex(line.get_color()), line.get_marker()) for line in dots}
    assert len(dots) == 15 and len(styles) == 15


def test_segments_below_the_group_size_rule_are_not_drawn_as_results():
    table = pd.DataFrame(
        {
            "country": ["UK", "Germany", "Iceland"],
            "customers": [900, 60, 1],
            "ndcg": [0.1, 0.12, 1.0],
            "low": [0.09, 0.08, 1.0],
            "high": [0.11, 0.16, 1.0],
            "too_small": [False, False, True],
        }
    )
    axes = plots.segment_results(table, "country").axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["UK (900)", "Germany (60)"]
    assert len(axes.patches) == 2 and axes.get_xlim()[1] < 0.5  # the one-customer country does not set the axis
    assert "1 smaller segment not drawn" in axes.get_title()


def test_the_latency_target_is_drawn_over_concurrency_1_only():
    records = pd.DataFrame(
        {
            "concurrency": [1, 8, 32],
            "p50_ms": [2.0, 9.0, 30.0],
            "p95_ms": [3.0, 12.0, 40.0],
            "p99_ms": [4.0, 15.0, 50.0],
            "requests_per_second": [300, 500, 520],
        }
    )
    axes = plots.latency(records, target_ms=10).axes[0]
    (target,) = [c for c in axes.collections if c.get_label().startswith("p99 target")]
    (segment,) = target.get_segments()
    assert segment[0][0] > -0.5 and segment[1][0] < 0.5  # over the first group of bars, not across the plot


def test_a_search_of_two_trials_labels_each_point_without_colour_bar():
    trials = pd.DataFrame(
        {
            "trial": [1, 2],
            "learning_rate": [3e-3, 1e-2],
            "dropout": [0.2, 0.4],
            "dim": [128, 64],
            "valid_ndcg@10": [0.10, 0.11],
        }
    )
    figure = plots.search_trials(trials)
    assert len(figure.axes) == 2  # no colour bar
    assert [t.get_text() for t in figure.axes[1].texts] == ["1: dropout 0.20, dim 128", "2: dropout 0.40, dim 64"]


def test_the_rolling_plot_keeps_overlapping_lines_visible_and_marks_a_short_month():
    months = ["2011-10", "2011-11", "2011-12"]
    table = pd.DataFrame(
        {
            "month": months * 2,
            "model": ["scratch"] * 3 + ["serving"] * 3,
            "ndcg@10": [0.1, 0.11, 0.08] * 2,
            "train_seconds": [5.0, 5.0, 5.0, None, None, None],
        }
    )
    left = plots.rolling_quality(table, short_months=["2011-12"]).axes[0]
    styles = {(line.get_linestyle(), line.get_marker()) for line in left.get_lines()}
    assert len(styles) == 2  # the same values, still two distinguishable lines
    assert [t.get_text() for t in left.texts] == ["short month"]
    (span,) = left.patches
    assert 1.5 < span.get_x() < 2 < span.get_x() + span.get_width() < 2.5  # over December, the third month


def test_the_comparison_bars_carry_intervals_and_the_target():
    table = pd.DataFrame({"discovery": [0.12, 0.10]}, index=["blend", "EASE + recent popularity"])
    low, high = table - 0.01, table + 0.01
    axes = plots.model_comparison(table, intervals=(low, high), targets={"discovery": 0.136}).axes[0]
    assert any(line.get_linestyle() == ":" and line.get_xdata()[0] == 0.136 for line in axes.get_lines())
    assert len(axes.containers) == 2  # the bars and their error bars


def test_the_comparison_key_sits_beside_the_bars_not_on_them():
    table = pd.DataFrame({"all": [0.1, 0.3], "cold": [0.2, 0.35]}, index=["random", "blend"])
    figure = plots.model_comparison(table, targets={"cold": 0.3})
    figure.canvas.draw()
    axes, legend = figure.axes[0], figure.legends[0] if figure.legends else figure.axes[0].get_legend()
    assert legend.get_window_extent().x0 >= axes.get_window_extent().x1  # entirely beside the plotting area
    assert [t.get_text() for t in legend.get_texts()] == ["cold target", "all", "cold"]
