"""The benchmarks' figures (the README shows them): paired windows of the rolling origin, the learning curve."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recft_utils.evaluation.rolling_origin import decision_interval


def paired_windows(paired: pd.DataFrame, against: str = "lexical twin") -> plt.Figure:
    """Paired difference of each language model to its ``against`` baseline (its lexical twin, or the best
    lexical or classical model), per window and pooled, per view.

    One panel per view; each model is a colour, each window a point with its
    95 % interval (the wider one: in the cold view, customers and products
    resampled), the pooled estimate last; the dashed line is no difference.
    """
    from recft_utils.evaluation.rolling_origin import decision_interval

    if "against" in paired:
        paired = paired[paired["against"] == against]
    paired = paired.assign(
        low=[decision_interval(r)[0] for r in paired.to_dict(orient="records")],
        high=[decision_interval(r)[1] for r in paired.to_dict(orient="records")],
    )
    views = list(dict.fromkeys(paired["view"]))
    colours = {model: f"C{i}" for i, model in enumerate(dict.fromkeys(paired["model"]))}
    fig, axes = plt.subplots(1, len(views), figsize=(6 * len(views), 3.8), squeeze=False)
    for ax, view in zip(axes[0], views):
        rows = paired[paired["view"] == view]
        windows = list(dict.fromkeys(rows["window"]))
        models = list(dict.fromkeys(rows["model"]))
        for i, model in enumerate(models):
            part = rows[rows["model"] == model].set_index("window").reindex(windows)
            x = [j + (i - (len(models) - 1) / 2) * 0.15 for j in range(len(windows))]
            ax.errorbar(
                x,
                part["difference"],
                yerr=[part["difference"] - part["low"], part["high"] - part["difference"]],
                fmt="o",
                capsize=3,
                color=colours[model],
                label=model,
            )
        ax.axhline(0, color="grey", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(windows)), [w if w == "pooled" else f"window {w}" for w in windows])
        ax.set_ylabel("NDCG@10 difference")
        baselines = list(dict.fromkeys(rows["baseline"]))
        ax.set_title(f"{view}: against {baselines[0] if len(baselines) == 1 else 'its ' + against}", fontsize=9)
    handles = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="upper center",
        ncol=min(len(handles), 3),
        bbox_to_anchor=(0.5, 1.08),
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def learning_curve(table: pd.DataFrame, differences: pd.DataFrame) -> plt.Figure:
    """NDCG@10 against the share of customers trained on, per view (top row, with 95 % bands), and the
    language model's paired differences to its lexical twin, the ID-only model, the classical bar, and
    fine-tuned minus frozen (bottom row, each bar the wider of the per-customer and two-way intervals,
    the one the verdict uses; the dashed line is no difference)."""
    views = [v for v in ("discovery", "cold", "cold, no shared word") if v in set(table["view"])]
    fig, axes = plt.subplots(2, len(views), figsize=(4.6 * len(views), 7), squeeze=False, sharex=True)
    for column, view in enumerate(views):
        top, bottom = axes[0][column], axes[1][column]
        for i, (model, rows) in enumerate(table[table["view"] == view].groupby("model", sort=False)):
            top.plot(rows["fraction"], rows["ndcg@10"], marker="o", color=f"C{i}", label=model)
            top.fill_between(rows["fraction"], rows["low"], rows["high"], color=f"C{i}", alpha=0.15)
        rows = differences[differences["view"] == view]
        for i, ((model, baseline), pair) in enumerate(rows.groupby(["model", "baseline"], sort=False)):
            low, high = np.array([decision_interval(row) for row in pair.to_dict(orient="records")]).T
            bottom.errorbar(
                pair["fraction"],
                pair["difference"],
                capsize=3,
                marker="o",
                color=f"C{i + 4}",
                yerr=[pair["difference"] - low, high - pair["difference"]],
                label=f"{model} − {baseline}",
            )
        bottom.axhline(0, color="grey", linestyle="--", linewidth=1)
        top.set_title(view, fontsize=10)
        top.set_ylabel("NDCG@10")
        bottom.set_ylabel("paired difference")
        bottom.set_xscale("log")
        bottom.set_xticks(sorted(set(table["fraction"])), [f"{f:.0%}" for f in sorted(set(table["fraction"]))])
        bottom.set_xlabel("share of customers trained on")
    for row in axes:
        handles = {label: handle for ax in row for handle, label in zip(*ax.get_legend_handles_labels())}
        row[0].legend(handles.values(), handles.keys(), fontsize=7, loc="best")
    fig.tight_layout()
    return fig
