"""Tables that compare models across seeds: one cell per model and view, as the notebooks and README show them."""

from __future__ import annotations

import pandas as pd


def seed_summary(records: list[dict], k: int = 10) -> pd.DataFrame:
    """Mean, min and max over seeds of NDCG@k per model and view, with mean cost."""
    frame = pd.DataFrame(records)
    grouped = frame.groupby(["model", "view"], sort=False)
    table = grouped.agg(
        seeds=("seed", "nunique"),
        ndcg_mean=(f"ndcg@{k}", "mean"), ndcg_min=(f"ndcg@{k}", "min"), ndcg_max=(f"ndcg@{k}", "max"),
        ndcg_low=(f"ndcg@{k}_low", "mean"), ndcg_high=(f"ndcg@{k}_high", "mean"),
        train_seconds=("train_seconds", "mean"), peak_rss_mb=("peak_rss_mb", "max"),
    )
    return table.reset_index()


def comparison_table(records: list[dict], k: int = 10) -> pd.DataFrame:
    """One row per model: NDCG@k per view as "mean (min–max over seeds)", and mean training time."""
    summary = seed_summary(records, k)

    def cell(row):
        if row["seeds"] <= 1:
            return f"{row['ndcg_mean']:.3f}"
        return f"{row['ndcg_mean']:.3f} ({row['ndcg_min']:.3f}–{row['ndcg_max']:.3f})"

    summary["cell"] = summary.apply(cell, axis=1)
    table = summary.pivot(index="model", columns="view", values="cell")
    table = table.reindex(index=summary["model"].unique(),
                          columns=[v for v in ("all", "discovery", "cold") if v in table.columns])
    table.columns = [f"NDCG@{k} {v}" for v in table.columns]
    seconds = summary.groupby("model", sort=False)["train_seconds"].first()
    table["train s"] = seconds.reindex(table.index).round(1)
    return table.fillna("–")


def records_table(records: list[dict], k: int = 10, digits: int = 3) -> pd.DataFrame:
    """Models as rows, ``ndcg@k`` per view as columns (rounded), like the guide's table."""
    frame = pd.DataFrame(records)
    table = frame.pivot_table(index="model", columns="view", values=f"ndcg@{k}", sort=False)
    table = table.reindex(columns=[v for v in ("all", "discovery", "cold") if v in table.columns])
    table.columns = [f"NDCG@{k} {v}" for v in table.columns]
    return table.round(digits)


def target_table(baselines: pd.DataFrame, gain: float, views=("discovery", "cold"), k: int = 10) -> pd.DataFrame:
    """Step 1's bars. Per view, the best classical model (random left out) with its NDCG@k and catalogue
    coverage@k; for ``views``, the NDCG@k a text model must reach (``gain`` above, relative) and the
    coverage@k it must not fall below (beating the bar by showing fewer products is no win)."""
    rows = []
    for view in ("all", *views):
        candidates = baselines[(baselines["view"] == view) & (baselines["model"] != "random")]
        top = candidates.loc[candidates[f"ndcg@{k}"].idxmax()]
        row = {"view": view, "best baseline": top["model"], f"its NDCG@{k}": round(float(top[f"ndcg@{k}"]), 3),
               f"its coverage@{k}": round(float(top[f"coverage@{k}"]), 3)}
        if view in views:
            row |= {"target gain": gain, f"target NDCG@{k}": round(row[f"its NDCG@{k}"] * (1 + gain), 3),
                    f"target coverage@{k}": row[f"its coverage@{k}"]}
        rows.append(row)
    return pd.DataFrame(rows)
