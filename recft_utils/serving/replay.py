"""Replay the test window's orders in time order, as simulated feedback for served recommenders.

Each order of a returning customer is one event: the recommender sees the
customer's history as it was just before the order (the history before the
window plus the window's earlier orders: the feedback) and returns its
top-k; a *hit* is an order with at least one of its new items (never bought
before by that customer) in that top-k, the discovery task of the protocol.
Recommenders are not retrained during the replay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recft_utils.evaluation.metrics import top_k
from recft_utils.models.blend import standardise


@dataclass
class ReplayEvent:
    timestamp: pd.Timestamp
    customer_id: str
    items: list[str]  # the customer's earlier items, most recent first
    ages: list[float]  # days since each was last bought
    new_items: set[str]  # what the order bought for the first time


def replay_events(
    task, max_history: int = 50, most: int | None = None, seed: int = 0
) -> tuple[list[ReplayEvent], dict]:
    """Events of ``task``'s window in time order, and counts of the orders that are not events.

    ``most``: replay at most that many, a seeded sample in time order (the tiny profile's budget: a
    grocery chain's heavy buyers place thousands of orders a month); ``skipped["not_sampled"]`` counts
    the rest.
    """
    last: dict[str, dict[str, pd.Timestamp]] = {}
    for user, item, when in task.history[["user_id", "item_id", "timestamp"]].itertuples(index=False):
        seen = last.setdefault(user, {})
        seen[item] = max(when, seen.get(item, when))
    orders = (
        task.target.groupby(["user_id", "order_id"], sort=False)
        .agg(timestamp=("timestamp", "min"), items=("item_id", "unique"))
        .reset_index()
        .sort_values(["timestamp", "order_id"], kind="stable")
    )
    events, skipped = [], {"new_customer": 0, "nothing_new": 0}
    for user, when, items in orders[["user_id", "timestamp", "items"]].itertuples(index=False):
        seen = last.setdefault(user, {})
        new = {i for i in items if i not in seen}
        if not seen:
            skipped["new_customer"] += 1
        elif not new:
            skipped["nothing_new"] += 1
        else:
            recent = sorted(seen.items(), key=lambda kv: kv[1], reverse=True)[:max_history]
            ages = [max((when.normalize() - t.normalize()).days, 0) for _, t in recent]
            events.append(ReplayEvent(when, str(user), [i for i, _ in recent], [float(a) for a in ages], new))
        for item in items:
            seen[item] = when
    skipped["not_sampled"] = max(len(events) - most, 0) if most else 0
    if skipped["not_sampled"]:
        keep = np.sort(np.random.default_rng(seed).choice(len(events), most, replace=False))
        events = [events[i] for i in keep]
    return events, skipped


def replay(events: list[ReplayEvent], recommenders: dict, k: int = 10, progress: bool = True) -> pd.DataFrame:
    """One row per event and recommender: day, customer, recommender name, hit (0/1).

    ``recommenders``: name → ``function(event, k)`` returning item ids, best first.
    """
    from tqdm import tqdm

    rows = []
    for event in tqdm(events, desc="replay", unit="order", mininterval=2, disable=not progress):
        for name, recommend in recommenders.items():
            hit = bool(event.new_items & set(recommend(event, k)))
            rows.append(
                {
                    "day": event.timestamp.normalize(),
                    "customer_id": event.customer_id,
                    "recommender": name,
                    "hit": int(hit),
                }
            )
    return pd.DataFrame(rows)


def daily_hit_rate(results: pd.DataFrame) -> pd.DataFrame:
    """Hit-rate per day (rows) and recommender (columns), with the day's number of orders."""
    table = results.pivot_table(index="day", columns="recommender", values="hit", aggfunc="mean")
    table["orders"] = results.groupby("day")["customer_id"].size() / results["recommender"].nunique()
    return table


def calendar_note(daily: pd.DataFrame, last_timestamp: pd.Timestamp) -> str:
    """What the day-by-day order counts show, from the data: weekdays with no orders, the quietest
    weekday, and whether the last day is a partial one (the extract stops mid-day)."""
    days = pd.to_datetime(pd.Series(daily.index))
    span = pd.date_range(days.min(), days.max(), freq="D")
    absent = sorted(set(span.day_name()) - set(days.dt.day_name()), key=list(span.day_name()).index)
    counts = pd.Series(daily["orders"].to_numpy(), index=days.dt.day_name())
    partial = len(counts) > 1 and counts.iloc[-1] < 0.5 * counts.iloc[:-1].mean()
    full_days = counts.iloc[:-1] if partial else counts  # a partial day would pass for a quiet weekday
    by_weekday = full_days.groupby(level=0).mean()
    notes = [f"no orders on {', '.join(d + 's' for d in absent)}"] if absent else []
    notes.append(
        f"the quietest weekday is {by_weekday.idxmin()} ({by_weekday.min():.0f} orders a day, against "
        f"{full_days.mean():.0f} on average)"
    )
    if partial:
        notes.append(
            f"the data ends at {last_timestamp:%H:%M} on {last_timestamp:%Y-%m-%d}, so its last day "
            f"holds only {counts.iloc[-1]:.0f} orders: a partial day, not a quiet one"
        )
    note = "; ".join(notes)
    return note[0].upper() + note[1:] + "."


def paired_comparison(
    results: pd.DataFrame, a: str, b: str, samples: int = 2000, seed: int = 0, level: float = 0.95
) -> dict:
    """Hit-rate of ``a`` minus ``b`` over the same replayed orders, with a bootstrap interval that resamples
    customers. An offline comparison, not an A/B test: nobody saw these recommendations.

    Orders of one customer are not independent, so customers (with all their
    orders) are the resampled unit; both arms see exactly the same events.
    """
    hits = results.pivot_table(index="customer_id", columns="recommender", values="hit", aggfunc="sum")
    n = results[results["recommender"] == a].groupby("customer_id").size().reindex(hits.index).to_numpy()
    hits_a, hits_b = hits[a].to_numpy(), hits[b].to_numpy()
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(n), size=(samples, len(n)))
    diffs = (hits_a[draws].sum(1) - hits_b[draws].sum(1)) / n[draws].sum(1)
    tail = (1 - level) / 2
    return {
        "a": a,
        "b": b,
        "orders": int(n.sum()),
        "customers": len(n),
        f"hit_rate_{a}": hits_a.sum() / n.sum(),
        f"hit_rate_{b}": hits_b.sum() / n.sum(),
        "difference": (hits_a.sum() - hits_b.sum()) / n.sum(),
        "low": float(np.quantile(diffs, tail)),
        "high": float(np.quantile(diffs, 1 - tail)),
        "level": level,
    }


def classical_bar_recommender(model, task):
    """A replay function for step 1's classical bar (:func:`~recft_utils.models.fair_baselines.classical_bar_from`:
    the item-to-item model blended with recent popularity, a ``ScoreBlend``) or for an item-to-item model alone.

    The item-to-item part scores the event's history, as it is just before the order; recent popularity is
    as of the window start, the same as offline and as the served model's prior. Blended like the bar:
    ``weight`` × its standardised scores + (1 − ``weight``) × popularity's.
    """
    column = pd.Series(np.arange(len(task.items)), index=task.items)
    item_model, weight = getattr(model, "first", model), getattr(model, "weight", 1.0)
    weights = item_model.item_weights
    popularity = standardise(model.second.score(np.zeros(1, int)))[0] if weight < 1 else 0.0

    def recommend(event: ReplayEvent, k: int) -> list[str]:
        history = column.reindex(event.items).dropna().to_numpy(dtype=int)
        scores = np.asarray(weights[history].sum(axis=0), dtype=np.float64).reshape(1, -1)
        scores = weight * standardise(scores)[0] + (1 - weight) * popularity if weight < 1 else scores[0]
        scores[history] = -np.inf  # discovery: never recommend what the customer already bought
        scores[task.n_warm :] = -np.inf  # neither part knows anything of new items
        return list(task.items[top_k(scores[None], k)[0]])

    return recommend


def service_recommender(url: str, timeout: float = 10.0):
    """A replay function that asks the HTTP service (history and ages in the request, history excluded)."""
    import requests

    session = requests.Session()

    def recommend(event: ReplayEvent, k: int) -> list[str]:
        response = session.post(
            f"{url}/recommend",
            json={"items": event.items, "ages_days": event.ages, "k": k, "exclude_history": True},
            timeout=timeout,
        )
        response.raise_for_status()
        return [r["item_id"] for r in response.json()["recommendations"]]

    return recommend
