"""Approximate top-k retrieval beside the SavedModel: a usearch HNSW index over the catalogue.

The served score of item ``i`` for a user vector ``u`` is ``u · v_i + prior_i``
(:class:`~recft_utils.serving.export.RecommenderModule`), a maximum inner product. HNSW
graphs built with the inner product over vectors of different lengths are poor (their
neighbours are the longest vectors, not the closest ones: recall@10 was about 0.15 at
100,000 items), so the index holds each item as ``[v_i, prior_i, sqrt(M² - |v_i|² - prior_i²)]``,
all of length ``M``, and is searched with ``[u, 1, 0]``: the inner product is still exactly
the score, and among vectors of one length it ranks like the cosine, which HNSW handles well
(Bachrach et al., 2014, "Speeding up the Xbox recommender system using a Euclidean
transformation for inner-product spaces").

A search fetches ``k`` + the excluded items + :attr:`AnnSettings.margin` candidates, drops the
excluded ones and re-scores the rest exactly (float32 vectors and prior), so the index's
half-precision vectors change which candidates are found, never their order.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

INDEX_FILE = "index.usearch"
# Exact search (numpy, one core, dim 128) costs about 0.1 ms a query at 4,000 items and 0.5 ms at
# 20,000: well under the ~3 ms that HTTP and JSON take, with no recall lost. It grows with the
# catalogue (2 ms at 50,000, 5 ms at 100,000) and passes the rest of the request, so from here on
# the index (0.1-0.2 ms a query) pays for its build time (seconds) and memory.
ANN_MIN_ITEMS = 20_000


@dataclass(frozen=True)
class AnnSettings:
    """usearch's HNSW parameters, measured at 100,000 items of dim 128 with
    :func:`~recft_utils.benchmark.ann_search.compare_with_exact` on
    :func:`~recft_utils.benchmark.ann_search.clustered_catalogue` (1,000 queries, one at a time, 2 shared
    cores): recall@10 0.998, 0.17-0.45 ms a query against 5.7-13.7 ms for exact numpy search, 30-49
    times faster. The alternatives below were measured the same way (on two-thread builds, recall
    0.992-0.997 here)."""

    connectivity: int = 16  # graph edges per node (32: recall 0.9995, 40 % more memory, no faster)
    expansion_add: int = 128  # candidates kept while building (more: slower build, better graph)
    expansion_search: int = 128  # candidates kept while searching (64: recall 0.987, 1.7 times faster)
    dtype: str = "f16"  # stored vectors: half f32's memory, same recall once candidates are re-scored in f32
    margin: int = 20  # candidates fetched beyond k and the excluded items (0: recall 0.992 instead of 0.997)


def index_vectors(item_vectors: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, float]:
    """``[v, prior, sqrt(M² - |v|² - prior²)]`` for every item, all of length ``M``; and ``M``."""
    scored = np.hstack([np.asarray(item_vectors, np.float32), np.asarray(prior, np.float32)[:, None]])
    squares = np.einsum("ij,ij->i", scored, scored)
    top = float(squares.max()) if len(squares) else 0.0
    return np.hstack([scored, np.sqrt(np.maximum(top - squares, 0.0))[:, None]]).astype(np.float32), top**0.5


def query_vectors(user_vectors: np.ndarray) -> np.ndarray:
    """``[u, 1, 0]``: its inner product with an item's index vector is that item's score."""
    users = np.atleast_2d(np.asarray(user_vectors, np.float32))
    ones, zeros = np.ones((len(users), 1), np.float32), np.zeros((len(users), 1), np.float32)
    return np.hstack([users, ones, zeros])


def _with_one(user_vector: np.ndarray) -> np.ndarray:
    """``[u, 1]``: its product with an item's ``[v, prior]`` is the item's score."""
    return np.append(np.asarray(user_vector, np.float32), np.float32(1.0))


def exact_top_k(scorer: np.ndarray, user_vector: np.ndarray, k: int, blocked=()) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the ``k`` best items by brute force (``scorer`` = ``[v, prior]`` per item)."""
    scores = scorer @ _with_one(user_vector)  # one contiguous matrix-vector product
    if len(blocked):
        scores[np.asarray(blocked, np.int64)] = -np.inf
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    keep = np.isfinite(scores[top])
    return top[keep], scores[top][keep]


class AnnIndex:
    """The usearch index of a catalogue, with the exact vectors and prior it re-scores candidates with."""

    def __init__(self, index, item_vectors: np.ndarray, prior: np.ndarray, settings: AnnSettings):
        self.index, self.settings = index, settings
        # one (items, dim + 1) float32 array: candidates' scores are one small matrix product
        self.scorer = np.hstack([np.asarray(item_vectors, np.float32), np.asarray(prior, np.float32)[:, None]])
        self.index.expansion_search = settings.expansion_search  # a search-time setting: not in the file
        # usearch does not promise that searches from several Python threads at once are safe; one
        # takes ~0.2 ms, so the service's request threads take turns
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls, item_vectors: np.ndarray, prior: np.ndarray, settings: AnnSettings | None = None, threads: int = 1
    ) -> "AnnIndex":
        """Index the catalogue. One thread by default: the same vectors then give the same file (and
        checksum), and concurrent insertions cannot leave an item badly linked (they did in one build
        of six on a 120-item catalogue); 100,000 items take 14-22 s (7-14 s on two threads)."""
        from usearch.index import Index

        settings = settings or AnnSettings()
        vectors, _ = index_vectors(item_vectors, prior)
        index = Index(
            ndim=vectors.shape[1],
            metric="ip",
            dtype=settings.dtype,
            connectivity=settings.connectivity,
            expansion_add=settings.expansion_add,
        )
        index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=threads)
        return cls(index, item_vectors, prior, settings)

    @classmethod
    def load(cls, path, item_vectors: np.ndarray, prior: np.ndarray, settings: AnnSettings) -> "AnnIndex":
        """Read an index saved by :meth:`save` (its vectors and graph; the search settings come from
        ``settings``, i.e. the model folder's metadata)."""
        from usearch.index import Index

        index = Index.restore(str(path))
        if index is None or len(index) != len(item_vectors):
            raise ValueError(f"{path} is not an index of these {len(item_vectors)} items")
        return cls(index, item_vectors, prior, settings)

    def save(self, path) -> Path:
        self.index.save(str(path))
        return Path(path)

    def describe(self) -> dict:
        """What the model folder's metadata records about the index."""
        import usearch

        return {
            "file": INDEX_FILE,
            "library": f"usearch {usearch.__version__}",
            "metric": "ip",
            "ndim": int(self.index.ndim),
            **asdict(self.settings),
        }

    def candidates(self, user_vector: np.ndarray, count: int) -> np.ndarray:
        """Rows of about the ``count`` best items (approximate), best first."""
        count = min(count, len(self.scorer))
        with self._lock:
            found = self.index.search(query_vectors(user_vector)[0], count, threads=1)  # a request is one thread
            return np.array(found.keys, np.int64)

    def top_k(self, user_vector: np.ndarray, k: int, blocked=()) -> tuple[np.ndarray, np.ndarray]:
        """Rows and exact scores of the best ``k`` items found, none of them in ``blocked``."""
        blocked = np.unique(np.asarray(blocked, np.int64))
        rows = self.candidates(user_vector, k + len(blocked) + self.settings.margin)
        rows = rows[~np.isin(rows, blocked)]
        scores = self.scorer[rows] @ _with_one(user_vector)
        best = np.argsort(-scores, kind="stable")[:k]
        return rows[best], scores[best]
