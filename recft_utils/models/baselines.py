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
from recft_utils.models.item_to_item import EASE, ItemKNN, ItemModelChoice
from recft_utils.models.recommender import Recommender, binary
from recft_utils.text.lexical import WEIGHTING_LABELS, title_matrices
from recft_utils.text.tfidf import unit_rows


def customers_per_item(history: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    """How many distinct customers bought each catalogue item."""
    counts = history.groupby("item_id")["user_id"].nunique()
    return counts.reindex(items, fill_value=0).to_numpy(dtype=np.float64)


class Random(Recommender):
    """Uniform random scores: the floor every model must clear."""

    name = "random"
    scores_cold_items = True
    # a chunk's draws follow from its first row: scoring fewer customers would draw other numbers
    draws_per_chunk = True

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

    def score(self, user_rows, first_item: int = 0):
        """Scores of the catalogue's items from ``first_item`` on (``task.n_warm``: the new products only)."""
        counts = self.counts[first_item:]
        return np.broadcast_to(counts, (len(user_rows), len(counts))).copy()


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


NEIGHBOURS_KEPT = 50  # the most any tuning grid asks for: computed once per task and representation


def warm_neighbours(titles: pd.Series, task, weighting, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each new product's warm products by title similarity, most similar first (ties by catalogue
    order): ``(columns, similarities)``, (cold, at least ``n``), similarities below 0 as 0.

    The cold × warm similarity is the costly part of :class:`TitleNeighbourPopularity` on a large
    catalogue, and a tuning grid asks the same task for it a dozen times: the nearest
    :data:`NEIGHBOURS_KEPT` (or ``n``) are kept on the task itself, for as long as it lives.
    """
    kept = max(n, NEIGHBOURS_KEPT)
    cache = task.__dict__.setdefault("_title_neighbours", {})  # {ids: (titles, weighting, nearest, weights)}
    key = (id(titles), id(weighting))
    saved = cache.get(key)
    if saved is not None and saved[0] is titles and saved[1] is weighting and saved[2].shape[1] >= min(n, task.n_warm):
        return saved[2], saved[3]
    queries, documents, _ = title_side(titles, task.items, weighting)
    kept = min(kept, task.n_warm)
    cold, warm = queries[task.n_warm :], documents[: task.n_warm].T
    step = max(1, SIMILARITY_CELLS // max(task.n_warm, 1))  # new products at once: memory stays bounded
    parts = [
        _nearest(np.maximum(_dense(cold[start : start + step] @ warm), 0.0), kept)
        for start in range(0, cold.shape[0], step)
    ]
    nearest = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, kept), np.int64)
    weights = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, kept))
    cache[key] = (titles, weighting, nearest, weights)
    return nearest, weights


SIMILARITY_CELLS = 10_000_000  # new × warm similarities computed at once (80 MB)


def _nearest(similarity: np.ndarray, kept: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``kept`` largest columns, most similar first (ties by column), and their values."""
    if kept < similarity.shape[1]:
        nearest = np.argpartition(-similarity, kept - 1, axis=1)[:, :kept]
    else:
        nearest = np.broadcast_to(np.arange(similarity.shape[1]), similarity.shape).copy()
    weights = np.take_along_axis(similarity, nearest, axis=1)
    order = np.lexsort((nearest, -weights), axis=1)  # most similar first, ties by catalogue order
    return np.take_along_axis(nearest, order, axis=1), np.take_along_axis(weights, order, axis=1)


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
        n = min(self.neighbours, task.n_warm)
        estimate = np.zeros(len(task.items) - task.n_warm)
        if n and len(estimate):
            nearest, weights = (part[:, :n] for part in warm_neighbours(self.titles, task, self.weighting, n))
            total = weights.sum(axis=1)
            estimate = np.divide(
                (weights * popularity[nearest]).sum(axis=1), total, out=np.zeros_like(total), where=total > 0
            )
        self.counts = np.concatenate([popularity[: task.n_warm], estimate])
        return self

    def score(self, user_rows, first_item: int = 0):
        """Scores of the catalogue's items from ``first_item`` on (``task.n_warm``: the new products only)."""
        counts = self.counts[first_item:]
        return np.broadcast_to(counts, (len(user_rows), len(counts))).copy()


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

    def score(self, user_rows, first_item: int = 0):
        """Scores of the catalogue's items from ``first_item`` on (``task.n_warm``: the new products only)."""
        bought = binary(self.task.matrix[user_rows])
        profile = bought @ self.queries
        documents = self.documents[first_item:]
        if sp.issparse(profile):
            return _dense(unit_rows(profile) @ documents.T)
        profile = np.asarray(profile)
        profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
        return profile @ documents.T


def classical_baselines(
    recent_days: int = 30, seed: int = 0, item_model: ItemModelChoice | None = None
) -> list[Recommender]:
    """The baselines of the guide's reference table, in its order, plus random.

    ``item_model`` (:func:`~recft_utils.models.item_to_item.choose_item_model`; ``None``: EASE in
    float64, the guide's) decides the item-to-item models: with dense EASE, plain ItemKNN, ItemKNN
    with 100 neighbours and EASE; with ItemKNN, the sparse one only (plain ItemKNN keeps every
    co-purchased pair, which on a catalogue too large for EASE is as heavy).
    """
    models = [Random(seed), Popularity(None), Popularity(recent_days), Repeats(recent_days)]
    if item_model is not None and item_model.model == "ItemKNN":
        return models + [item_model.build()]
    return models + [ItemKNN(), ItemKNN(neighbours=100), EASE(300.0) if item_model is None else item_model.build()]


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
        bought = binary(self.task.matrix[user_rows])
        users = np.asarray(bought @ self.vectors)
        users /= np.maximum(np.linalg.norm(users, axis=1, keepdims=True), 1e-12)
        return users @ self.vectors.T
