"""Tables that compare models across seeds: one cell per model and view, as the notebooks and README show them."""

from __future__ import annotations

import pandas as pd


def seed_summary(records: list[dict], k: int = 10) -> pd.DataFrame:
    """Mean, min and max over seeds of NDCG@k per model and view, with mean cost."""
    frame = pd.DataFrame(records)
    grouped = frame.groupby(["model", "view"], sort=False)
    table = grouped.agg(
        seeds=("seed", "nunique"),
        ndcg_mean=(f"ndcg@{k}", "mean"),
        ndcg_min=(f"ndcg@{k}", "min"),
        ndcg_max=(f"ndcg@{k}", "max"),
        ndcg_low=(f"ndcg@{k}_low", "mean"),
        ndcg_high=(f"ndcg@{k}_high", "mean"),
        train_seconds=("train_seconds", "mean"),
        peak_rss_mb=("peak_rss_mb", "max"),
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
    table = table.reindex(
        index=summary["model"].unique(), columns=[v for v in ("all", "discovery", "cold") if v in table.columns]
    )
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
        row = {
            "view": view,
            "best baseline": top["model"],
            f"its NDCG@{k}": round(float(top[f"ndcg@{k}"]), 3),
            f"its coverage@{k}": round(float(top[f"coverage@{k}"]), 3),
        }
        if view in views:
            row |= {
                "target gain": gain,
                f"target NDCG@{k}": round(row[f"its NDCG@{k}"] * (1 + gain), 3),
                f"target coverage@{k}": row[f"its coverage@{k}"],
            }
        rows.append(row)
    return pd.DataFrame(rows)


def mean_of(results: pd.DataFrame, model: str, view: str, column: str = "ndcg@10") -> float:
    """The mean of ``column`` over ``model``'s rows (its seeds) in ``view``; NaN when it has none."""
    rows = results[(results["model"] == model) & (results["view"] == view)]
    return float(rows[column].mean())


def target_verdict(results: pd.DataFrame, targets: pd.DataFrame, models) -> pd.DataFrame:
    """Each of ``models`` against step 1's bar of each view in ``targets`` (:func:`target_table`, indexed by
    view; views without a target gain are left out): its relative change in mean NDCG@10 over the view's
    best baseline, its coverage@10, and ``met`` (the gain reached, at no less coverage than the bar's)."""
    rows = []
    for view, target in targets.dropna(subset=["target gain"]).iterrows():
        for name in dict.fromkeys(models):
            if name == target["best baseline"] or pd.isna(mean_of(results, name, view)):
                continue
            rows.append(
                {
                    "model": name,
                    "view": view,
                    "against": target["best baseline"],
                    "target": target["target gain"],
                    "relative change": mean_of(results, name, view) / mean_of(results, target["best baseline"], view)
                    - 1,
                    "coverage@10": mean_of(results, name, view, "coverage@10"),
                    "target coverage@10": target["target coverage@10"],
                }
            )
    verdict = pd.DataFrame(rows)
    return verdict.assign(
        met=(verdict["relative change"] >= verdict["target"])
        & (verdict["coverage@10"] >= verdict["target coverage@10"])
    )


def verdict_lines(verdict: pd.DataFrame) -> list[str]:
    """One sentence per view from :func:`target_verdict`: its best model against the bar, met or not."""
    lines = []
    for view, rows in verdict.groupby("view", sort=False):
        top = rows.loc[rows["relative change"].idxmax()]
        lines.append(
            f"{view}: the best text model, {top['model']}, is {top['relative change']:+.1%} against "
            f"{top['against']} (target {top['target']:+.0%}) and shows {top['coverage@10']:.0%} of the "
            f"catalogue (bar {top['target coverage@10']:.0%}): {'met' if top['met'] else 'not met'}"
        )
    return lines
