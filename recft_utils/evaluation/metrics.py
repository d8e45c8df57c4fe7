"""Ranking metrics over the full catalogue, vectorised over users.

All functions take ``scores`` (users x items, higher is better; ``-inf``
means "not a candidate") and ``truth`` (users x items, boolean) and return
one value per user, so that means and bootstrap intervals are cheap.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best items per row, best first (ties: lower index first).

    ``argpartition`` alone would pick arbitrarily among items tied at the
    cut-off (popularity counts tie often), so the items scored exactly like
    the k-th best are taken in index order until each row has ``k``. The
    tied items are ranked within their row from the positions ``nonzero``
    returns (row-major), not with a cumulative sum over the whole matrix,
    which cost a (customers × catalogue) integer matrix per call.
    """
    n_rows = len(scores)
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((n_rows, 0), dtype=np.int64)
    n_items = scores.shape[1]
    kth = np.partition(scores, n_items - k, axis=1)[:, n_items - k : n_items - k + 1]  # the k-th best
    above_rows, above_columns = np.nonzero(scores > kth)
    tied_rows, tied_columns = np.nonzero(scores == kth)
    room = k - np.bincount(above_rows, minlength=n_rows)
    rank_in_row = np.arange(len(tied_rows)) - np.searchsorted(tied_rows, tied_rows)
    taken = rank_in_row < room[tied_rows]
    rows = np.concatenate([above_rows, tied_rows[taken]])
    columns = np.concatenate([above_columns, tied_columns[taken]])
    if len(rows) != n_rows * k:
        raise ValueError("Scores contain NaN; a model must score every item with a number or -inf.")
    part = columns[np.lexsort((columns, rows))].reshape(n_rows, k)  # ascending index within each row
    part_scores = np.take_along_axis(scores, part, axis=1)
    # lexsort's last key is primary: sort by score descending, then by item index.
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _hits(scores, truth, k, ranked=None):
    ranked = top_k(scores, k) if ranked is None else ranked
    hits = np.take_along_axis(truth, ranked, axis=1)
    # an item scored -inf is not recommended at all
    valid = np.isfinite(np.take_along_axis(scores, ranked, axis=1))
    return hits & valid


def ndcg_from_hits(hits: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Binary-relevance NDCG of ranked lists, the one formula every NDCG here uses.

    ``hits`` (users x k) is true where the item at that rank is relevant; ``relevant``
    (users,) counts each user's relevant items (the ideal list holds ``min(relevant, k)``).
    A user with nothing relevant gets 0.
    """
    hits = np.asarray(hits, dtype=bool)
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = hits @ discounts
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(relevant, hits.shape[1])]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def ndcg_at_k(scores: np.ndarray, truth: np.ndarray, k: int = 10) -> np.ndarray:
    """Binary-relevance NDCG@k: DCG of the top k over the DCG of a perfect list."""
    return ndcg_from_hits(_hits(scores, truth, k), truth.sum(axis=1))


def ndcg_item_gains(scores: np.ndarray, truth: np.ndarray, k: int = 10, ranked: np.ndarray | None = None):
    """Each relevant (user, item) cell's share of the user's NDCG@k: ``(rows, columns, gains)``.

    A relevant item ranked ``r`` ≤ k contributes ``1 / log2(r + 1)`` over the
    user's ideal DCG, one ranked lower 0; a user's gains add up to
    :func:`ndcg_at_k`. Splitting NDCG by product is what lets an interval
    resample products as well as customers (:func:`two_way_interval`).
    """
    k = min(k, scores.shape[1])
    ranked = top_k(scores, k)
    valid = np.isfinite(np.take_along_axis(scores, ranked, axis=1))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(truth.sum(axis=1), k)]
    rank_gain = np.zeros(scores.shape)
    np.put_along_axis(rank_gain, ranked, np.where(valid, discounts, 0.0), axis=1)
    rows, columns = np.nonzero(truth)
    gains = np.divide(rank_gain[rows, columns], ideal[rows], out=np.zeros(len(rows)), where=ideal[rows] > 0)
    return rows, columns, gains


def recall_at_k(scores: np.ndarray, truth: np.ndarray, k: int = 10) -> np.ndarray:
    """Share of a user's relevant items found in the top k."""
    return _recall(_hits(scores, truth, k), truth.sum(axis=1))


def _recall(hits: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    return np.divide(hits.sum(axis=1), relevant, out=np.zeros(len(hits)), where=relevant > 0)


def hit_rate_at_k(scores: np.ndarray, truth: np.ndarray, k: int = 10) -> np.ndarray:
    """1 when at least one relevant item is in the top k, else 0."""
    return _hits(scores, truth, k).any(axis=1).astype(float)


def ranking_metrics(scores: np.ndarray, truth: np.ndarray, k: int = 10) -> dict:
    """NDCG@k, recall@k, hit rate@k and reciprocal rank per user from one top-k ranking, and that
    ranking (``top``, with ``shown``: true where a top-k item is recommended at all, not ``-inf``).

    The same numbers as the four functions, which each rank the catalogue again; on a large
    catalogue ranking is most of an evaluation's time.
    """
    top = top_k(scores, k)
    hits = _hits(scores, truth, k, ranked=top)
    relevant = truth.sum(axis=1)
    return {
        "ndcg": ndcg_from_hits(hits, relevant),
        "recall": _recall(hits, relevant),
        "hit_rate": hits.any(axis=1).astype(float),
        "rr": reciprocal_rank(scores, truth),
        "top": top,
        "shown": np.isfinite(np.take_along_axis(scores, top, axis=1)),
    }


def reciprocal_rank(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1 / rank of the best-ranked relevant item in the full ranking (MRR per user).

    Rank counts the candidates scored strictly higher, so ties are resolved in
    the model's favour; a user whose relevant items are all ``-inf`` gets 0.
    """
    best = np.where(truth, scores, -np.inf).max(axis=1)
    rank = (scores > best[:, None]).sum(axis=1) + 1
    return np.where(np.isfinite(best), 1.0 / rank, 0.0)


def coverage(shown, n_items: int) -> float:
    """The share of a catalogue of ``n_items`` products that ``shown`` holds (product columns, a set or an
    array: a product recommended twice counts once); every coverage figure of recft is this one."""
    distinct = shown if isinstance(shown, (set, frozenset)) else set(np.asarray(shown).ravel().tolist())
    return len(distinct) / max(n_items, 1)


def catalogue_coverage(scores: np.ndarray, k: int = 10, n_items: int | None = None) -> float:
    """Share of the catalogue that appears in at least one user's top k."""
    ranked = top_k(scores, k)
    shown = np.take_along_axis(scores, ranked, axis=1)
    return coverage(ranked[np.isfinite(shown)], n_items or scores.shape[1])


def bootstrap_interval(
    values: np.ndarray, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling users."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(samples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_difference(
    first: np.ndarray, second: np.ndarray, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> dict:
    """Mean per-customer difference ``first - second`` and its percentile bootstrap interval.

    Both arrays hold one value per customer, in the same customer order: the
    resampling draws customers, so each draw keeps a customer's two values
    together, which is what makes the interval much narrower than the two
    separate intervals' overlap suggests.
    """
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if first.shape != second.shape:
        raise ValueError(f"paired values need the same customers: {first.shape} against {second.shape}")
    low, high = bootstrap_interval(first - second, samples, level, seed)
    return {
        "difference": float(np.mean(first - second)) if len(first) else float("nan"),
        "low": low,
        "high": high,
        "n_users": int(len(first)),
    }


def two_way_interval(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of a per-customer mean whose customers share products: both are resampled.

    ``values`` holds one number per (customer, product) cell, a customer's
    cells adding up to its score (e.g. :func:`ndcg_item_gains`, or the
    difference of two models' gains). When every customer ranks the same few
    dozen new products, a handful of products carries much of the result, and
    resampling customers alone treats rows that share a product as
    independent. Each draw weighs every customer and every product by how
    often it was drawn (a pigeonhole bootstrap, Owen 2007): a customer's score
    is its cells' product-weighted mean times its number of cells, and the
    statistic the customer-weighted mean of those (a customer whose products
    were all left out sits that draw out). With every weight 1 it is the
    plain mean.
    """
    user_ids, user_of = np.unique(users, return_inverse=True)
    item_ids, item_of = np.unique(items, return_inverse=True)
    n_users, n_items = len(user_ids), len(item_ids)
    if n_users == 0:
        return (float("nan"), float("nan"))
    values = np.asarray(values, dtype=float)
    cells = np.bincount(user_of, minlength=n_users)
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for b in range(samples):
        w_user = np.bincount(rng.integers(0, n_users, n_users), minlength=n_users)
        w_item = np.bincount(rng.integers(0, n_items, n_items), minlength=n_items)[item_of]
        weight = np.bincount(user_of, w_item, minlength=n_users)
        total = np.bincount(user_of, w_item * values, minlength=n_users)
        score = np.divide(cells * total, weight, out=np.zeros(n_users), where=weight > 0)
        w_user = w_user * (weight > 0)
        means[b] = (w_user * score).sum() / max(w_user.sum(), 1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
