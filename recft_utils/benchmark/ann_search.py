"""The approximate index against exact search, measured (the scale benchmark's figures and
:class:`~recft_utils.serving.ann.AnnSettings`' defaults come from here)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from recft_utils.serving.ann import AnnIndex, AnnSettings, exact_top_k
from recft_utils.serving.model_folder import ServedModel


def _arrays(source) -> tuple[np.ndarray, np.ndarray, AnnIndex | None]:
    """Item vectors, prior and (when the model folder has one) the index of ``source``."""
    if isinstance(source, (str, Path)):
        served = ServedModel.load(source)
        return served.item_vectors, served.prior, served.ann
    item_vectors, prior = source
    return np.asarray(item_vectors, np.float32), np.asarray(prior, np.float32), None


def compare_with_exact(source, user_vectors: np.ndarray, k: int = 10, settings: AnnSettings | None = None) -> dict:
    """Recall@k of the approximate search against exact search, and the speed of both, one query at a time.

    ``source`` is a model folder (its index, or one built with ``settings`` when it has none)
    or ``(item_vectors, prior)``. Both searches answer the same ``user_vectors`` one after the
    other, like a service answers requests, each including its final exact ordering; recall is
    the share of the exact top ``k`` that the approximate top ``k`` holds, averaged over queries.
    Exact search's time depends on numpy's BLAS threads: on a busy machine
    ``OPENBLAS_NUM_THREADS=1`` gives steadier (and lower) figures.
    """
    item_vectors, prior, ann = _arrays(source)
    started = time.perf_counter()
    if ann is None or settings is not None:
        ann = AnnIndex.build(item_vectors, prior, settings)
    build_seconds = time.perf_counter() - started
    users = np.atleast_2d(np.asarray(user_vectors, np.float32))
    exact, exact_seconds = _timed(lambda u: exact_top_k(ann.scorer, u, k)[0], users)
    approximate, ann_seconds = _timed(lambda u: ann.top_k(u, k)[0], users)
    k = min(k, len(item_vectors))
    recall = float(np.mean([len(np.intersect1d(a, e)) / k for a, e in zip(approximate, exact)]))
    exact_ms, ann_ms = 1e3 * exact_seconds / len(users), 1e3 * ann_seconds / len(users)
    return {
        "recall": recall,
        "k": k,
        "items": len(item_vectors),
        "dim": int(item_vectors.shape[1]),
        "queries": len(users),
        "exact_ms_per_query": exact_ms,
        "ann_ms_per_query": ann_ms,
        "speedup": exact_ms / ann_ms,
        "timing": "one query at a time",
        "build_seconds": build_seconds,
        "settings": asdict(ann.settings),
    }


def _timed(search, users: np.ndarray) -> tuple[list[np.ndarray], float]:
    """Each user's result and the total seconds, after one warm-up query."""
    search(users[0])
    started = time.perf_counter()
    results = [search(u) for u in users]
    return results, time.perf_counter() - started


def clustered_catalogue(n_items: int, dim: int = 128, users: int = 1000, seed: int = 0):
    """Synthetic ``(item_vectors, prior, user_vectors)`` shaped like a trained model's (measured on the
    Online Retail run: item length ~1.27, user length ~1.9, prior 1.5 ± 1.4 up to ~5, top-10 scores
    about 1.7 from the vectors and 4.4 from the prior): items in clusters of ~500 (product families),
    a long-tailed popularity prior, and users who bought in one or two families."""
    rng = np.random.default_rng(seed)
    clusters = max(8, n_items // 500)
    centres = rng.normal(0, 1.1 / np.sqrt(dim), (clusters, dim)).astype(np.float32)
    family = rng.integers(0, clusters, n_items)
    items = centres[family] + rng.normal(0, 0.6 / np.sqrt(dim), (n_items, dim)).astype(np.float32)
    prior = (0.75 * np.log1p(rng.zipf(1.6, n_items).clip(max=700)) + rng.normal(0, 0.3, n_items)).astype(np.float32)
    members = [np.flatnonzero(family == c) for c in range(clusters)]
    vectors = np.empty((users, dim), np.float32)
    for u in range(users):
        pool = np.concatenate([members[c] for c in rng.choice(clusters, size=rng.integers(1, 3))])
        bought = rng.choice(pool, size=min(len(pool), int(rng.integers(1, 30))))
        vectors[u] = 2.0 * items[bought].mean(axis=0)  # pooled history, scaled like the user tower's residual
    return items, prior, vectors
