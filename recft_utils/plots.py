"""The figures the notebooks show; each returns a matplotlib Figure.

Notebooks save them with :func:`recft_utils.artefacts.save_figure`, so every
plot a learner sees also exists as a PNG in the run folder.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator


def long_tail(popularity: pd.Series) -> plt.Figure:
    """Cumulative share of purchases against the share of items, most popular first."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    share_items = np.arange(1, len(popularity) + 1) / len(popularity)
    share_purchases = popularity.cumsum().to_numpy() / popularity.sum()
    ax.plot(share_items * 100, share_purchases * 100)
    ax.plot([0, 100], [0, 100], linestyle=":", color="grey", label="every item equally popular")
    ax.set(xlabel="% of items (most popular first)", ylabel="% of customer-item purchases", title="The long tail")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def activity(orders: pd.Series) -> plt.Figure:
    """Histogram of orders per customer, log-scaled."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = np.unique(np.logspace(0, np.log10(orders.max() + 1), 30).astype(int))
    ax.hist(orders, bins=bins)
    ax.set(xscale="log", yscale="log", xlabel="orders per customer", ylabel="customers", title="Customer activity")
    ax.grid(alpha=0.3)
    return fig


def seasonality(weekly: pd.DataFrame, windows: dict[str, tuple] | None = None) -> plt.Figure:
    """Orders per week, with the evaluation windows shaded."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(weekly.index, weekly["orders"], marker=".", label="orders per week")
    colours = {"valid": "tab:orange", "test": "tab:red"}
    for name, (start, end) in (windows or {}).items():
        ax.axvspan(start, end, alpha=0.15, color=colours.get(name, "grey"), label=f"{name} window")
    ax.set(ylabel="orders", title="Seasonality: orders per week")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def removed_rows(report: pd.DataFrame) -> plt.Figure:
    """Rows removed by each cleaning rule."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(report["rule"], report["rows_removed"])
    ax.invert_yaxis()
    ax.set(xlabel="rows removed", title="What cleaning removed")
    ax.grid(alpha=0.3, axis="x")
    return fig


def model_comparison(
    table: pd.DataFrame, title: str = "NDCG@10 on the test window", intervals=None, targets: dict | None = None
) -> plt.Figure:
    """Horizontal bars: one group per model, one bar per column (view). ``intervals``: (low, high) tables shaped
    like ``table``, drawn as error bars; ``targets``: a target per view, drawn as a dotted line."""
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(table) + 1.5))
    height = 0.8 / max(len(table.columns), 1)
    positions = np.arange(len(table))
    for i, column in enumerate(table.columns):
        bars = ax.barh(positions + i * height, table[column].fillna(0), height=height, label=column)
        if intervals is not None:
            low, high = (frame[column].reindex(table.index) for frame in intervals)
            ax.errorbar(
                table[column],
                positions + i * height,
                xerr=[table[column] - low, high - table[column]],
                fmt="none",
                ecolor="black",
                capsize=2,
                linewidth=0.8,
            )
        if targets and column in targets:
            ax.axvline(targets[column], color=bars.patches[0].get_facecolor(), linestyle=":", label=f"{column} target")
    ax.set_yticks(positions + height * (len(table.columns) - 1) / 2, table.index)
    ax.invert_yaxis()
    ax.set(xlabel="NDCG@10", title=title)
    # beside the axes (save_figure keeps it: bbox_inches="tight"): inside, the key covered the last rows' bars
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    return fig


def token_lengths(lengths: np.ndarray, chosen: int) -> plt.Figure:
    """Distribution of title lengths in word pieces, with the chosen sequence length."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(lengths, bins=np.arange(lengths.min(), lengths.max() + 2) - 0.5)
    ax.axvline(chosen, color="tab:red", linestyle="--", label=f"sequence length {chosen}")
    ax.set(
        xlabel="word pieces per title ([CLS] and [SEP] included)", ylabel="items", title="How long are product titles?"
    )
    ax.legend()
    return fig


def training_curve(
    curve: pd.DataFrame, best_epoch: int, reference: float | None = None, reference_label: str = ""
) -> plt.Figure:
    """Training loss (left) and validation NDCG@10 with the reference model's (right) per epoch, the chosen
    epoch marked in both: two panels, so that the reference line can only be read on the NDCG axis."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    left.plot(curve["epoch"], curve["loss"], color="tab:blue", marker=".")
    left.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    right.plot(curve["epoch"], curve["valid_ndcg@10"], color="tab:red", marker=".", label="validation NDCG@10")
    if reference is not None:
        right.axhline(reference, color="grey", linestyle=":", label=reference_label)
    right.set(xlabel="epoch", ylabel="discovery NDCG@10 (validation)", title=f"Early stopping: best epoch {best_epoch}")
    for ax in (left, right):
        ax.axvline(best_epoch, color="tab:red", linestyle="--", alpha=0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8)  # below the curves
    fig.tight_layout()
    return fig


def label_groups(points, x_decades: float = 0.08, y_share: float = 0.025) -> list[tuple[list[int], float, float]]:
    """Points ``(number, x, y)`` of a log-x plot grouped where their labels would overlap.

    A point joins the first group whose first point lies within ``x_decades`` (in log10 x) and within
    ``y_share`` of the y range; each group is ``(numbers, x, y)`` at its first point.
    """
    ys = [y for _, _, y in points]
    y_range = (max(ys) - min(ys) if ys else 0.0) or 1.0
    groups = []
    for number, x, y in points:
        for numbers, gx, gy in groups:
            if abs(np.log10(x) - np.log10(gx)) < x_decades and abs(y - gy) < y_share * y_range:
                numbers.append(number)
                break
        else:
            groups.append(([number], x, y))
    return groups


def quality_cost(summary: pd.DataFrame, views=("discovery", "cold")) -> plt.Figure:
    """NDCG@10 (mean over seeds, bar from min to max) against training time, one panel per view.

    Each model has one colour and marker and one number in every panel; the number is written beside its
    dot and leads its entry in the figure's single legend (a model missing from a view has no dot there).
    Ten distinct colours, then the same colours with another marker: tab20's light and dark pairs were
    told apart by nobody.
    """
    models = list(dict.fromkeys(summary["model"]))
    colours = plt.get_cmap("tab10").colors
    markers = "os^Dv"
    fig, axes = plt.subplots(1, len(views), figsize=(6 * len(views), 4.4), squeeze=False)
    handles = {}
    for ax, view in zip(axes[0], views):
        points = []
        for _, row in summary[summary["view"] == view].iterrows():
            number = models.index(row["model"]) + 1
            seconds = max(float(row["train_seconds"]), 0.1)  # log axis: untrained models sit at 0.1 s
            error = [[row["ndcg_mean"] - row["ndcg_min"]], [row["ndcg_max"] - row["ndcg_mean"]]]
            handles[number] = ax.errorbar(
                seconds,
                row["ndcg_mean"],
                yerr=error,
                capsize=3,
                linestyle="none",
                marker=markers[(number - 1) // 10 % len(markers)],
                color=colours[(number - 1) % 10],
            )
            points.append((number, seconds, row["ndcg_mean"]))
        for numbers, seconds, ndcg in label_groups(points):  # dots on top of each other share one label
            ax.annotate(
                ", ".join(map(str, numbers)), (seconds, ndcg), textcoords="offset points", xytext=(5, 3), fontsize=7
            )
        ax.set(
            xscale="log",
            xlabel="training time per seed, s (log)",
            ylabel="NDCG@10",
            title=f"{view}: quality against cost",
        )
        ax.grid(alpha=0.3)
    shown = sorted(handles)
    fig.legend(
        [handles[n] for n in shown],
        [f"{n} {models[n - 1]}" for n in shown],
        fontsize=7,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
    )
    fig.tight_layout()
    return fig


def search_trials(trials: pd.DataFrame, objective: str = "valid_ndcg@10") -> plt.Figure:
    """A search's trials: the objective per trial with the running best, and against the learning rate."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(trials["trial"], trials[objective], "o", label="trial")
    left.plot(trials["trial"], trials[objective].cummax(), "-", color="tab:red", label="best so far")
    left.set(xlabel="trial (1 = defaults)", ylabel=objective, title="Search on the validation window")
    left.legend()
    left.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are counted
    # each trial labelled with its other settings: a colour bar and a size key need more than a few trials
    right.plot(trials["learning_rate"], trials[objective], "o")
    for trial, rate, value, dropout, dim in trials[["trial", "learning_rate", objective, "dropout", "dim"]].itertuples(
        index=False
    ):
        right.annotate(
            f"{trial}: dropout {dropout:.2f}, dim {dim}",
            (rate, value),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )
    right.set(xscale="log", xlabel="learning rate", ylabel=objective, title="Each trial's settings")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def latency(records: pd.DataFrame, target_ms: float | None = None) -> plt.Figure:
    """Latency percentiles per concurrency (bars) and throughput (numbers above them)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = np.arange(len(records))
    for offset, column in zip((-0.25, 0, 0.25), ("p50_ms", "p95_ms", "p99_ms")):
        ax.bar(x + offset, records[column], width=0.25, label=column.replace("_ms", ""))
    for i, row in enumerate(records.itertuples()):
        ax.annotate(
            f"{row.requests_per_second:.0f} req/s",
            (i, row.p99_ms),
            ha="center",
            va="bottom",
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=8,
        )
    if target_ms is not None:  # the target holds at concurrency 1 only: drawn over that group of bars alone
        first = (
            int(np.flatnonzero(records["concurrency"].to_numpy() == 1)[0]) if (records["concurrency"] == 1).any() else 0
        )
        ax.hlines(
            target_ms,
            first - 0.4,
            first + 0.4,
            color="tab:red",
            linestyle=":",
            label=f"p99 target at concurrency 1 ({target_ms:g} ms)",
        )
    ax.set(
        xticks=x,
        xticklabels=[f"concurrency {c}" for c in records["concurrency"]],
        ylabel="latency, ms",
        yscale="log",
        title="POST /recommend on this machine",
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def replay_daily(daily: pd.DataFrame) -> plt.Figure:
    """Daily hit-rate of each replayed recommender, with the number of orders per day underneath."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=(3, 1))
    for name in [c for c in daily.columns if c != "orders"]:
        top.plot(daily.index, daily[name], marker="o", markersize=3, label=name)
    top.set(ylabel="hit-rate@10 (new items)", title="Replay of the test window, day by day")
    top.legend()
    top.grid(alpha=0.3)
    bottom.bar(daily.index, daily["orders"], color="grey")
    bottom.set(ylabel="orders")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def segment_results(table: pd.DataFrame, by: str, metric: str = "ndcg") -> plt.Figure:
    """Mean ``metric`` per segment with its interval; a segment flagged too small (the group-size rule) is not
    drawn as a result, only counted in the title."""
    shown = table[~table["too_small"].astype(bool)]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(shown) + 1)))
    y = np.arange(len(shown))[::-1]
    ax.barh(y, shown[metric], color="tab:blue")
    ax.errorbar(
        shown[metric],
        y,
        xerr=[shown[metric] - shown["low"], shown["high"] - shown[metric]],
        fmt="none",
        ecolor="black",
        capsize=2,
    )
    left_out = len(table) - len(shown)
    note = f"; {left_out} smaller {'segment' if left_out == 1 else 'segments'} not drawn" if left_out else ""
    ax.set(
        yticks=y,
        yticklabels=[f"{v} ({n})" for v, n in zip(shown[by], shown["customers"])],
        xlabel=f"discovery {metric.upper()}@10 (95 % interval)",
        title=f"By {by} (customers{note})",
    )
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def popularity_bias(buckets: pd.DataFrame, profile: dict) -> plt.Figure:
    """Recall per item-popularity bucket, and the head's share of recommendations against purchases."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    bars = left.bar(buckets["bucket"], buckets["recall"].fillna(0))
    left.bar_label(bars, labels=[f"{v:.0%}" if v > 0 else "0" for v in buckets["recall"].fillna(0)], fontsize=8)
    left.set(ylabel="share of the window's purchases recommended", title="Recall by item popularity")
    right.bar(
        ["recommendations", "purchases"],
        [profile["head_share_recommended"], profile["head_share_purchased"]],
        color=["tab:orange", "tab:grey"],
    )
    right.set(ylim=(0, 1), ylabel="share from the 10 % best-sellers", title="Popularity bias")
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def run_curves(curves: dict[str, pd.DataFrame], metric: str = "valid_ndcg@10") -> plt.Figure:
    """One line per tracked run: ``metric`` by epoch."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for label, curve in curves.items():
        ax.plot(curve["epoch"], curve[metric], marker="o", markersize=3, label=label)
    ax.set(xlabel="epoch", ylabel=metric, title="Two tracked runs on the validation window")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def rolling_quality(table: pd.DataFrame, short_months=None) -> plt.Figure:
    """Discovery NDCG@10 per month for each model of the simulation (left), training seconds (right);
    ``short_months`` (months the data covers only in part) are marked."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    styles = ["-o", "--s", ":^", "-.D"]  # a line on top of another stays visible by its markers and dashes
    for (name, rows), style in zip(table.groupby("model", sort=False), styles * 3):
        left.plot(
            rows["month"],
            rows["ndcg@10"],
            style,
            label=name,
            markersize=7 - 1.5 * styles.index(style),
            fillstyle="none",
        )
    order = list(dict.fromkeys(table["month"]))  # the category axis: month i sits at x = i
    for month in (m for m in (short_months if short_months is not None else ()) if m in order):
        at = order.index(month)
        left.axvspan(at - 0.3, at + 0.3, color="grey", alpha=0.2)
        left.annotate("short month", (at, left.get_ylim()[1]), ha="center", va="top", fontsize=7, color="grey")
    left.set(ylabel="discovery NDCG@10 on the month", title="Quality month by month")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)  # below: no month hidden
    trained = table.dropna(subset=["train_seconds"])
    trained = trained[trained["train_seconds"] > 0].pivot(index="month", columns="model", values="train_seconds")
    trained.plot.bar(ax=right, rot=0)
    right.set(ylabel="training seconds", title="Cost of a retrain")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def drift_measures(drift: pd.DataFrame, thresholds: dict) -> plt.Figure:
    """Each drift measure per month, its alert threshold dotted; months above it marked red."""
    names = list(thresholds)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2))
    for ax, name in zip(axes, names):
        above = drift[name] > thresholds[name]
        ax.bar(drift["month"], drift[name], color=np.where(above, "tab:red", "tab:blue"))
        ax.axhline(thresholds[name], color="black", linestyle=":")
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.suptitle("Drift against the training data (red: alert)")
    fig.tight_layout()
    return fig


def two_tower_diagram() -> plt.Figure:
    """The two towers of :class:`~recft_utils.models.two_tower.TextTwoTower` and how their outputs meet."""
    fig, ax = plt.subplots(figsize=(9, 4.4))
    ax.set(xlim=(0, 10), ylim=(0, 6.2))
    ax.axis("off")
    boxes = {
        "titles": (1.6, 5.5, "product titles\n(whole catalogue)"),
        "encoder": (1.6, 4.3, "pretrained encoder\n(frozen, or fine-tuned)"),
        "adapter": (1.6, 3.1, "adapter: Dense(dim)\n(+ ID embedding, warm items)"),
        "history": (5.0, 5.5, "customer's earlier items (as item-\ntower vectors) and their ages"),
        "pool": (5.0, 4.3, "recency-weighted pooling\nsoftmax(-softplus(d)·log(1+age))"),
        "user": (5.0, 3.1, "residual Dense(dim)\nwith dropout"),
        "prior": (8.4, 3.1, "item prior: bias +\nw · popularity(day)"),
        "score": (5.0, 1.5, "score = user · item + prior\nseen items masked, softmax over catalogue"),
    }
    for x, y, text in boxes.values():
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=8.5,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#eef3fb", "edgecolor": "#4c72b0"},
        )
    arrows = [
        ("titles", "encoder"),
        ("encoder", "adapter"),
        ("history", "pool"),
        ("pool", "user"),
        ("adapter", "score"),
        ("user", "score"),
        ("prior", "score"),
    ]
    for start, end in arrows:
        (x0, y0, _), (x1, y1, _) = boxes[start], boxes[end]
        ax.annotate("", xy=(x1, y1 + 0.45), xytext=(x0, y0 - 0.45), arrowprops={"arrowstyle": "->", "color": "#555555"})
    ax.text(1.6, 2.35, "item tower", ha="center", fontsize=10, weight="bold")
    ax.text(5.0, 2.35, "user tower", ha="center", fontsize=10, weight="bold")
    ax.set_title("The two-tower recommender")
    return fig
