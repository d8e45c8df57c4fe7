"""Drift measures between the data a model was trained on and a later period, with alert thresholds.

- ``unseen_share``: the share of the period's purchases on items never sold in training;
- ``catalogue_churn``: items sold in one period but not the other, over the items sold in either
  (the previous period against this one);
- ``popularity_psi``: the population stability index of item popularity (purchase shares of the
  training period's most bought items, the rest pooled);
- ``embedding_shift``: the cosine distance between the purchase-weighted mean text embeddings of the
  two periods' items: has what people buy moved in meaning, not only in names?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Alert levels, each meaning "look at this month before trusting last month's model", and why (notebook 06
# shows this table: :func:`threshold_table`).
THRESHOLDS = {"unseen_share": 0.03, "catalogue_churn": 0.25, "popularity_psi": 0.1, "embedding_shift": 0.01}
THRESHOLD_REASONS = {
    "unseen_share": "more than 3 % of the month's purchases are of products the model never saw sold: they "
    "are ranked by their text alone",
    "catalogue_churn": "a quarter of the products sold in either of two consecutive months sold in only one "
    "of them: the range is being replaced",
    "popularity_psi": "0.1 is the usual 'moderate shift: investigate' level of the population stability "
    "index (0.25, the 'major shift' one, would alert only after the damage)",
    "embedding_shift": "buying only Christmas products moves the mean embedding by about 0.2 from an "
    "autumn month, a random half of a month by about 0.00004: 0.01 is a real change "
    "in what people buy, not noise",
}


def threshold_table(thresholds: dict | None = None) -> pd.DataFrame:
    """measure, alert above, why: the alert levels (:data:`THRESHOLDS`, or these) and their reasons."""
    thresholds = {**THRESHOLDS, **(thresholds or {})}
    return pd.DataFrame(
        {
            "measure": list(thresholds),
            "alert above": list(thresholds.values()),
            "why": [THRESHOLD_REASONS.get(name, "") for name in thresholds],
        }
    ).set_index("measure")


def unseen_share(train: pd.DataFrame, period: pd.DataFrame) -> float:
    """Share of ``period``'s purchase lines whose item never appears in ``train``."""
    if period.empty:
        return 0.0
    return float((~period["item_id"].isin(set(train["item_id"]))).mean())


def catalogue_churn(previous: pd.DataFrame, period: pd.DataFrame) -> float:
    """(items sold in only one of the two periods) / (items sold in either)."""
    before, now = set(previous["item_id"]), set(period["item_id"])
    either = before | now
    return len(before ^ now) / len(either) if either else 0.0


def popularity_psi(train: pd.DataFrame, period: pd.DataFrame, top: int = 200, floor: float = 1e-4) -> float:
    """PSI of purchase shares over ``train``'s ``top`` items plus one bucket for every other item.

    ``floor`` keeps empty buckets from making the index infinite.
    """
    head = train["item_id"].value_counts().index[:top]

    def shares(frame):
        counts = frame["item_id"].where(frame["item_id"].isin(head), "(other)").value_counts()
        values = counts.reindex(list(head) + ["(other)"], fill_value=0).to_numpy(dtype=float)
        return np.maximum(values / max(values.sum(), 1.0), floor)

    expected, actual = shares(train), shares(period)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def embedding_shift(train: pd.DataFrame, period: pd.DataFrame, item_vectors: pd.DataFrame) -> float:
    """Cosine distance between the purchase-weighted mean item embeddings of two periods."""

    def mean_vector(frame):
        counts = frame["item_id"].value_counts()
        vectors = item_vectors.reindex(counts.index).dropna()
        weights = counts.reindex(vectors.index).to_numpy(dtype=float)
        return (vectors.to_numpy() * weights[:, None]).sum(axis=0) / max(weights.sum(), 1.0)

    a, b = mean_vector(train), mean_vector(period)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(1.0 - a @ b / norm) if norm > 0 else 0.0


def drift_report(
    train: pd.DataFrame,
    previous: pd.DataFrame,
    period: pd.DataFrame,
    item_vectors: pd.DataFrame,
    thresholds: dict | None = None,
) -> dict:
    """Every measure for one period, and the alerts: the measures above their threshold."""
    thresholds = {**THRESHOLDS, **(thresholds or {})}
    values = {
        "unseen_share": unseen_share(train, period),
        "catalogue_churn": catalogue_churn(previous, period),
        "popularity_psi": popularity_psi(train, period),
        "embedding_shift": embedding_shift(train, period, item_vectors),
    }
    return {**values, "alerts": [name for name, value in values.items() if value > thresholds[name]]}
