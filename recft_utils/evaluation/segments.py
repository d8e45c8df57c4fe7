"""Results by segment, and what a model's recommendations look like as a whole.

- :func:`top_k_lists`: each evaluated customer's top-k under the protocol's views;
- :func:`per_customer`: hit-rate, recall and NDCG per customer from those lists;
- :func:`customer_segments`: country, activity decile and tenure of each evaluated customer;
- :func:`segment_table`: means and bootstrap intervals per segment, with segments too small to
  say anything flagged (not hidden);
- :func:`item_bucket_recall`: recall of the purchases of each item-popularity bucket;
- :func:`recommendation_profile`: popularity bias, catalogue coverage and novelty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recft_utils.config import MIN_CUSTOMERS  # the group-size rule
from recft_utils.evaluation import metrics


def top_k_lists(model, task, k: int = 10, view: str = "discovery", chunk: int | None = None) -> np.ndarray:
    """(evaluated customers, k) catalogue columns, best first, as the protocol ranks them.

    ``view="discovery"`` removes what each customer already bought; models that do not score
    cold items never recommend them. A slot left without a candidate holds -1.
    """
    from recft_utils.evaluation.protocol import chunk_rows

    cold_ok = getattr(model, "scores_cold_items", False)
    chunk = chunk or chunk_rows(len(task.items))
    out = []
    for begin in range(0, len(task.eval_rows), chunk):
        rows = task.eval_rows[begin : begin + chunk]
        scores = np.asarray(model.score(rows), dtype=np.float64)
        if not cold_ok:
            scores[:, task.n_warm :] = -np.inf
        if view == "discovery":
            scores = np.where(task.matrix[rows].toarray() > 0, -np.inf, scores)
        top = metrics.top_k(scores, k)
        out.append(np.where(np.isfinite(np.take_along_axis(scores, top, axis=1)), top, -1))
    return np.vstack(out)


def _discovery_truth(task) -> np.ndarray:
    truth = task.truth.toarray()
    return truth & ~(task.matrix[task.eval_rows].toarray() > 0)


def per_customer(top: np.ndarray, task, view: str = "discovery") -> pd.DataFrame:
    """One row per evaluated customer: ``hit``, ``recall``, ``ndcg`` of their top-k, and how many items they bought."""
    truth = _discovery_truth(task) if view == "discovery" else task.truth.toarray()
    hits = np.take_along_axis(truth, np.maximum(top, 0), axis=1) & (top >= 0)
    bought = truth.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "user_id": task.users[task.eval_rows],
                "bought": bought,
                "hit": hits.any(axis=1).astype(float),
                "recall": hits.sum(axis=1) / bought,
                "ndcg": metrics.ndcg_from_hits(hits, bought),
            }
        )
    return frame[frame["bought"] > 0].reset_index(drop=True)


def customer_segments(task, bins: int = 10) -> pd.DataFrame:
    """Per evaluated customer: ``country`` (where most of their orders came from), ``activity``
    (their number of orders before the window, in about ``bins`` bins of equal size; an ordered
    category such as "3–4 orders") and ``tenure`` (``one earlier order`` or ``returning``)."""
    history = task.history[task.history["user_id"].isin(task.users[task.eval_rows])]
    orders = history.groupby("user_id")["order_id"].nunique()
    country = history.groupby("user_id")["country"].agg(lambda c: c.value_counts().index[0])
    edges = np.r_[0, np.unique(np.quantile(orders, np.linspace(0, 1, bins + 1), method="lower"))]
    bounds = list(zip(edges[:-1] + 1, edges[1:]))  # (first, last) number of orders of each bin
    labels = [f"{a} order{'s' if b > 1 else ''}" if a == b else f"{a}–{b} orders" for a, b in bounds]
    activity = pd.cut(orders, bins=edges, labels=labels)
    return pd.DataFrame(
        {
            "country": country,
            "orders_before": orders,
            "activity": activity,
            "tenure": np.where(orders >= 2, "returning", "one earlier order"),
        }
    ).rename_axis("user_id")


def segment_table(
    scores: pd.DataFrame,
    segments: pd.DataFrame,
    by: str,
    metric: str = "ndcg",
    min_customers: int = MIN_CUSTOMERS,
    bootstrap: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean ``metric`` per value of ``segments[by]``, a 95 % bootstrap interval, customers, and a ``too_small`` flag.

    Rows follow an ordered category's order (activity), otherwise the largest segments first.
    """
    joined = scores.join(segments[[by]], on="user_id")
    ordered = isinstance(joined[by].dtype, pd.CategoricalDtype) and joined[by].cat.ordered
    rows = []
    for value, group in joined.groupby(by, sort=True, observed=True):
        values = group[metric].to_numpy()
        low, high = metrics.bootstrap_interval(values, bootstrap, seed=seed)
        rows.append(
            {
                by: value,
                "customers": len(values),
                metric: values.mean(),
                "low": low,
                "high": high,
                "too_small": len(values) < min_customers,
            }
        )
    table = pd.DataFrame(rows)
    return table if ordered else table.sort_values("customers", ascending=False, kind="stable").reset_index(drop=True)


def largest_segment_note(table: pd.DataFrame, by: str) -> str:
    """Which value of ``by`` holds most evaluated customers, and its share (from a :func:`segment_table`)."""
    top = table.sort_values("customers", ascending=False, kind="stable").iloc[0]
    small = int(table["too_small"].sum())
    return (
        f"{top[by]} holds {top['customers'] / table['customers'].sum():.0%} of the evaluated customers; "
        f"{small} of {len(table)} {by} values have too few customers to say anything (flagged too_small)."
    )


def item_popularity(task) -> pd.Series:
    """Customers per catalogue item before the window (0 for new items), by column."""
    counts = task.history.groupby("item_id")["user_id"].nunique()
    return pd.Series(counts.reindex(task.items, fill_value=0).to_numpy(), index=np.arange(len(task.items)))


def popularity_buckets(task) -> pd.Series:
    """Each catalogue column's bucket: ``new`` (no purchase before the window), then ``head`` (the most
    popular 10 % of the other items), ``torso`` (the next 40 %) and ``tail`` (the rest)."""
    popularity = item_popularity(task)
    known = popularity[popularity > 0].sort_values(ascending=False, kind="stable")
    share = np.arange(1, len(known) + 1) / len(known)
    labels = pd.Series(np.where(share <= 0.1, "head", np.where(share <= 0.5, "torso", "tail")), index=known.index)
    return labels.reindex(popularity.index, fill_value="new")


def item_bucket_recall(top: np.ndarray, task, view: str = "discovery") -> pd.DataFrame:
    """For each popularity bucket: the window's purchases of its items and the share of them recommended."""
    truth = _discovery_truth(task) if view == "discovery" else task.truth.toarray()
    recommended = np.zeros_like(truth)
    rows, slots = np.nonzero(top >= 0)
    recommended[rows, top[rows, slots]] = True
    buckets = popularity_buckets(task).to_numpy()
    rows = []
    for bucket in ("head", "torso", "tail", "new"):
        columns = buckets == bucket
        purchases = int(truth[:, columns].sum())
        found = int((truth & recommended)[:, columns].sum())
        rows.append(
            {
                "bucket": bucket,
                "items": int(columns.sum()),
                "purchases": purchases,
                "recall": found / purchases if purchases else np.nan,
            }
        )
    return pd.DataFrame(rows)


def recommendation_profile(top: np.ndarray, task) -> dict:
    """Popularity bias, coverage and novelty of a set of top-k lists.

    - ``head_share_recommended`` against ``head_share_purchased``: the share of recommendations,
      and of the window's purchases, that are the 10 % most popular items;
    - ``coverage``: the share of the catalogue recommended to anyone;
    - ``novelty``: the mean self-information, −log2 of an item's share of customers before the
      window (new items count as bought by one customer), of recommended items.
    """
    shown = top[top >= 0]
    buckets = popularity_buckets(task).to_numpy()
    truth_columns = task.truth.nonzero()[1]
    popularity = item_popularity(task).to_numpy().astype(float)
    share = np.maximum(popularity, 1.0) / len(task.users)
    return {
        "head_share_recommended": float((buckets[shown] == "head").mean()),
        "head_share_purchased": float((buckets[truth_columns] == "head").mean()),
        "coverage": metrics.coverage(shown, len(task.items)),
        "novelty": float(-np.log2(share[shown]).mean()),
    }


def new_customer_scores(task, fallback, k: int = 10) -> pd.DataFrame:
    """Customers who bought in the window without any earlier purchase, served the list a shop shows
    them: ``fallback``, a recommender fitted on ``task`` that ignores history (e.g. ``Popularity(30)``,
    the best-sellers). ``hit``, ``recall`` and ``ndcg`` per customer."""
    new = task.target[~task.target["user_id"].isin(task.users)]
    if new.empty:
        return pd.DataFrame(columns=["user_id", "bought", "hit", "recall", "ndcg"])
    column = pd.Series(np.arange(len(task.items)), index=task.items)
    top = metrics.top_k(fallback.score(task.eval_rows[:1]), k)[0]  # the same list for every customer
    rows = []
    for user, items in new.groupby("user_id")["item_id"].unique().items():
        hits = np.isin(top, column.reindex(items).to_numpy())
        bought = len(items)
        rows.append(
            {
                "user_id": user,
                "bought": bought,
                "hit": float(hits.any()),
                "recall": hits.sum() / bought,
                "ndcg": float(metrics.ndcg_from_hits(hits[None], np.array([bought]))[0]),
            }
        )
    return pd.DataFrame(rows)


def tenure_table(
    scores: pd.DataFrame, customer_segments: pd.DataFrame, new_scores: pd.DataFrame, **options
) -> pd.DataFrame:
    """:func:`segment_table` by tenure, with the window's new customers (served the fallback) as a third row."""
    labelled = pd.concat(
        [
            scores.join(customer_segments["tenure"], on="user_id"),
            new_scores.assign(tenure="new (best-sellers fallback)"),
        ],
        ignore_index=True,
    )
    return segment_table(
        labelled.drop(columns="tenure"), labelled.set_index("user_id")[["tenure"]], "tenure", **options
    )
