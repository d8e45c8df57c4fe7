"""Classical baselines, fitted on an :class:`~recft_utils.evaluation.EvalTask`.

Each model has ``fit(task)`` and ``score(user_rows)``, which returns a dense
(users x catalogue) score matrix. Most only know item IDs, so they cannot
score cold items (``scores_cold_items = False``). :class:`Random` and the two
title models, :class:`TitleNeighbourPopularity` and :class:`TitleProfile`,
can: they read product titles as TF-IDF bags of words, with no neural model,
which is the bar a language model has to clear on new products.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recft_utils.errors import ParameterError
from recft_utils.text.lexical import WEIGHTING_LABELS, title_matrices
from recft_utils.text.tfidf import unit_rows


class Recommender:
    """Base class: a name and the two methods the protocol calls."""

    name = "recommender"
    family = "classical"  # see recft_utils.evaluation.FAMILIES
    scores_cold_items = False

    def fit(self, task):
        self.task = task
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = matrix.copy()
    out.data = np.ones_like(out.data, dtype=np.float64)
    return out


def customers_per_item(history: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    """How many distinct customers bought each catalogue item."""
    counts = history.groupby("item_id")["user_id"].nunique()
    return counts.reindex(items, fill_value=0).to_numpy(dtype=np.float64)


class Random(Recommender):
    """Uniform random scores: the floor every model must clear."""

    name = "random"
    scores_cold_items = True

    def __init__(self, seed: int = 0):
        self.seed = seed

    def score(self, user_rows):
        rng = np.random.default_rng(self.seed + 7919 * int(user_rows[0]) if len(user_rows) else self.seed)
        return rng.random((len(user_rows), len(self.task.items)))


class Popularity(Recommender):
    """Items ranked by how many customers bought them, over all history or its last ``days``."""

    def __init__(self, days: int | None = None):
        if days is not None and days <= 0:
            raise ParameterError(f"Popularity window must be a positive number of days, got {days}.")
        self.days = days
        self.name = "popularity (all time)" if days is None else f"popularity (last {days} days)"

    def fit(self, task):
        super().fit(task)
        history = task.history
        if self.days is not None:
            history = history[history["timestamp"] >= task.start - pd.Timedelta(days=self.days)]
        self.counts = customers_per_item(history, task.items)
        return self

    def score(self, user_rows):
        return np.broadcast_to(self.counts, (len(user_rows), len(self.counts))).copy()


class Repeats(Recommender):
    """The customer's own most-bought items first, then recent popularity.

    Retail is repeat-heavy, so this is the bar for the ``all`` view; in the
    ``discovery`` view it reduces to recent popularity.
    """

    name = "own repeats, then recent popularity"

    def __init__(self, days: int = 30):
        self.popularity = Popularity(days)

    def fit(self, task):
        super().fit(task)
        self.popularity.fit(task)
        pop = self.popularity.counts
        self.tiebreak = pop / (pop.max() + 1.0)  # in [0, 1): never outranks one purchase
        return self

    def score(self, user_rows):
        own = self.task.matrix[user_rows].toarray().astype(np.float64)
        return own + self.tiebreak


class ItemKNN(Recommender):
    """Item-based neighbours: cosine similarity between items' buyer sets, kept sparse.

    A customer's score for an item is the summed similarity of the item to
    everything they bought. ``neighbours`` keeps each item's strongest links
    (ties at the cut-off included). The similarity is a sparse matrix with one
    entry per pair of items bought by a common customer, so memory grows with
    co-purchases, not with the square of the catalogue: the alternative to
    :class:`EASE` above :data:`EASE_MAX_ITEMS`.
    """

    def __init__(self, neighbours: int | None = None):
        self.neighbours = neighbours
        self.name = "ItemKNN (cosine)" if neighbours is None else f"ItemKNN (cosine, {neighbours} neighbours)"

    def fit(self, task):
        super().fit(task)
        x = _binary(task.matrix).tocsr()
        co = (x.T @ x).tocsr()
        norms = np.sqrt(co.diagonal())
        scale = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
        sim = (scale @ co @ scale).tocsc()
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        sim.data = np.round(sim.data, 12)  # equal similarities tie exactly at the cut-off, whatever the float path
        if self.neighbours and self.neighbours < sim.shape[0]:
            sim = _strongest_per_column(sim, self.neighbours)
        self.x = x
        self.similarity = sim.tocsr()
        return self

    def score(self, user_rows):
        return (self.x[user_rows] @ self.similarity).toarray()


def _strongest_per_column(matrix: sp.csc_matrix, n: int) -> sp.csc_matrix:
    """Keep each column's ``n`` largest entries (and any tied with the ``n``-th)."""
    coo = matrix.tocoo()
    order = np.lexsort((-coo.data, coo.col))
    columns = coo.col[order]
    rank = np.arange(len(order)) - np.searchsorted(columns, columns, side="left")
    cut = np.zeros(matrix.shape[1])
    nth = order[rank == n - 1]
    cut[coo.col[nth]] = coo.data[nth]
    keep = coo.data >= cut[coo.col]
    return sp.csc_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape)


# EASE inverts a dense catalogue × catalogue matrix: memory grows with the square of the catalogue (three
# such float64 matrices live at once) and time with its cube. 20,000 items need about 10 GB and a few
# minutes on 2 cores; above that, refuse before any work and name the sparse alternative.
EASE_MAX_ITEMS = 20_000


def check_ease_size(items: int, limit: int = EASE_MAX_ITEMS) -> None:
    """Refuse a catalogue too large for dense EASE, with the memory it would need and what to use instead."""
    if items > limit:
        raise ParameterError(
            f"EASE inverts a dense {items:,} × {items:,} matrix: about {3 * 8 * items ** 2 / 1e9:,.0f} GB of memory "
            f"and hours of work; recft allows it up to {limit:,} items (about {3 * 8 * limit ** 2 / 1e9:.0f} GB). "
            f"Use ItemKNN(neighbours=100), which is sparse, for this catalogue.")


class EASE(Recommender):
    """EASE (Steck, 2019): a closed-form item-item linear model.

    ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹`` and a zero diagonal;
    scores are ``X B``. One matrix inverse of catalogue size: seconds at 4,000 items, refused
    above :data:`EASE_MAX_ITEMS` (:func:`check_ease_size`).
    """

    def __init__(self, l2: float = 300.0):
        if l2 <= 0:
            raise ParameterError(f"EASE needs a positive l2 (λ), got {l2}.")
        self.l2 = l2
        self.name = f"EASE (λ = {l2:g})"

    def fit(self, task):
        check_ease_size(len(task.items))
        super().fit(task)
        x = _binary(task.matrix)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        inverse = np.linalg.inv(gram)
        self.weights = -inverse / np.diag(inverse)[None, :]
        np.fill_diagonal(self.weights, 0.0)
        self.x = x
        return self

    def score(self, user_rows):
        return np.asarray(self.x[user_rows] @ self.weights)


def title_side(titles, items: np.ndarray, weighting) -> tuple:
    """``(queries, documents)`` rows of the catalogue in catalogue order, and the representation's label.

    ``weighting`` is a word weighting of :mod:`~recft_utils.text.lexical`
    (``"tfidf"``, ``"bm25"``: sparse rows, an item without a title a zero row)
    or a DataFrame of item vectors indexed by item id (the encoder's: dense unit
    rows, queries and documents alike).
    """
    if isinstance(weighting, pd.DataFrame):
        vectors = weighting.reindex(items).fillna(0.0).to_numpy(dtype=np.float64)
        return vectors, vectors, "encoder"
    queries, documents = title_matrices(titles.reindex(items).fillna("").to_numpy(), weighting)
    return queries, documents, WEIGHTING_LABELS[weighting]


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def _representation_family(weighting) -> str:
    """Words are ``lexical``; the encoder's vectors make a ``text-frozen`` model."""
    return "text-frozen" if isinstance(weighting, pd.DataFrame) else "lexical"


class TitleNeighbourPopularity(Recommender):
    """Recent popularity; a new product borrows that of its nearest warm products by title.

    A cold item's score is the similarity-weighted mean of the recent
    popularity (customers in the last ``days`` before the window) of its
    ``neighbours`` most similar warm items by title: TF-IDF cosine, BM25, or
    the encoder's cosine (``weighting``, see :func:`title_side`). Warm items
    keep their own recent popularity. The same for every customer.
    """

    scores_cold_items = True

    def __init__(self, titles: pd.Series, neighbours: int = 10, days: int = 7, weighting="tfidf"):
        if neighbours <= 0:
            raise ParameterError(f"TitleNeighbourPopularity needs a positive number of neighbours, got {neighbours}.")
        self.titles, self.neighbours, self.days, self.weighting = titles, neighbours, days, weighting
        self.family = _representation_family(weighting)
        label = "encoder" if self.family != "lexical" else WEIGHTING_LABELS[weighting]
        self.name = f"title neighbours' recent popularity ({label}, {neighbours} neighbours, {days} d)"

    def fit(self, task):
        super().fit(task)
        popularity = Popularity(self.days).fit(task).counts
        queries, documents, _ = title_side(self.titles, task.items, self.weighting)
        similarity = _dense(queries[task.n_warm:] @ documents[:task.n_warm].T)  # cold x warm
        n = min(self.neighbours, task.n_warm)
        estimate = np.zeros(len(task.items) - task.n_warm)
        if n and len(estimate):
            similarity = np.maximum(similarity, 0.0)  # an unlike title lends nothing
            nearest = np.argpartition(-similarity, n - 1, axis=1)[:, :n]
            weights = np.take_along_axis(similarity, nearest, axis=1)
            total = weights.sum(axis=1)
            estimate = np.divide((weights * popularity[nearest]).sum(axis=1), total,
                                 out=np.zeros_like(total), where=total > 0)
        self.counts = np.concatenate([popularity[:task.n_warm], estimate])
        return self

    def score(self, user_rows):
        return np.broadcast_to(self.counts, (len(user_rows), len(self.counts))).copy()


class TitleProfile(Recommender):
    """The customer's bought titles against each item's title, by word overlap or the encoder's vectors.

    A customer is the sum of the query rows of what they bought (TF-IDF
    rows, BM25's words, or encoder vectors: ``weighting``, see
    :func:`title_side`), scaled to unit length; an item's score is that
    profile against its document row. The personalised text baseline, for
    the cold view above all.
    """

    scores_cold_items = True

    def __init__(self, titles: pd.Series, weighting="tfidf"):
        self.titles, self.weighting = titles, weighting
        self.family = _representation_family(weighting)
        label = "encoder" if self.family != "lexical" else WEIGHTING_LABELS[weighting]
        self.name = f"customer's titles vs item title ({label})"

    def fit(self, task):
        super().fit(task)
        self.queries, self.documents, _ = title_side(self.titles, task.items, self.weighting)
        return self

    def score(self, user_rows):
        bought = _binary(self.task.matrix[user_rows])
        profile = bought @ self.queries
        if sp.issparse(profile):
            return _dense(unit_rows(profile) @ self.documents.T)
        profile = np.asarray(profile)
        profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
        return profile @ self.documents.T


def classical_baselines(recent_days: int = 30, seed: int = 0) -> list[Recommender]:
    """The baselines of the guide's reference table, in its order, plus random."""
    return [
        Random(seed),
        Popularity(None),
        Popularity(recent_days),
        Repeats(recent_days),
        ItemKNN(),
        ItemKNN(neighbours=100),
        EASE(300.0),
    ]


class FrozenEncoderMean(Recommender):
    """The pretrained encoder with no training: a customer is the mean of the
    embeddings of what they bought; items are ranked by cosine similarity.

    The reference point for what fine-tuning adds, and able to rank new items.
    """

    name = "frozen encoder (mean of history)"
    family = "text-frozen"
    scores_cold_items = True

    def __init__(self, item_vectors: pd.DataFrame):
        self.item_vectors = item_vectors

    def fit(self, task):
        super().fit(task)
        self.vectors = self.item_vectors.reindex(task.items).to_numpy(dtype=np.float64)
        return self

    def score(self, user_rows):
        bought = _binary(self.task.matrix[user_rows])
        users = np.asarray(bought @ self.vectors)
        users /= np.maximum(np.linalg.norm(users, axis=1, keepdims=True), 1e-12)
        return users @ self.vectors.T
