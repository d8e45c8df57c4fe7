"""Product text as words, with no neural model: the lexical twins of the language model.

A language model's gain has to be read against the same model fed word
overlap instead of the encoder's vectors: text is not the same as a language
model. Two word weightings and one dense form:

- TF-IDF (:func:`~recft_utils.text.tfidf.tfidf_matrix`): unit rows, cosine;
- BM25 (Robertson and Zaragoza, 2009): :func:`bm25_matrices` gives the query
  side (which words a title has) and the document side (each word's weight in
  a title, saturated by ``k1`` and normalised for length by ``b``), so that
  ``queries @ documents.T`` is the BM25 score of every title against every other;
- :func:`lexical_item_vectors`: TF-IDF reduced to the encoder's width by a
  truncated SVD (latent semantic analysis), a drop-in for the encoder's item
  vectors in any model that reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from recft_utils.text.tfidf import term_counts, tfidf_matrix, unit_rows

WEIGHTINGS = ("tfidf", "bm25")
WEIGHTING_LABELS = {"tfidf": "TF-IDF", "bm25": "BM25"}


def bm25_matrices(titles: Sequence[str], k1: float = 1.2, b: float = 0.75) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(queries, documents)``: binary word rows and BM25-weighted word rows of the same titles.

    A document's weight for a word is ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / mean length))``
    with Lucene's ``idf = ln(1 + (n - df + 0.5) / (df + 0.5))``, never negative.
    """
    counts = term_counts(titles)
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    length = np.asarray(counts.sum(axis=1)).ravel()
    norm = k1 * (1 - b + b * length / max(length.mean(), 1e-12))
    documents = counts.tocoo()
    tf = documents.data
    weights = idf[documents.col] * tf * (k1 + 1) / (tf + norm[documents.row])
    documents = sp.csr_matrix((weights, (documents.row, documents.col)), shape=counts.shape)
    queries = counts.copy()
    queries.data = np.ones_like(queries.data)
    return queries, documents


def title_matrices(titles: Sequence[str], weighting: str = "tfidf") -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(queries, documents)`` of ``weighting``: ``queries[a] @ documents[b]`` scores title b for title a."""
    if weighting == "tfidf":
        vectors = tfidf_matrix(titles)
        return vectors, vectors
    if weighting == "bm25":
        return bm25_matrices(titles)
    raise ValueError(f"Unknown word weighting {weighting!r}; use one of {WEIGHTINGS}.")


def lexical_item_vectors(titles: pd.Series, dim: int = 384, seed: int = 0) -> pd.DataFrame:
    """Every item's TF-IDF title vector reduced to ``dim`` dimensions (truncated SVD), unit length.

    The same shape as the encoder's item vectors (indexed by item id, columns
    0 … dim-1), so a model built on those can be built on these: its lexical
    twin. A vocabulary smaller than ``dim`` keeps every direction and pads
    with zero columns. The SVD is unsupervised and reads only the catalogue's
    titles, as the encoder does.
    """
    matrix = tfidf_matrix(titles.fillna("").to_numpy())
    rank = min(dim, min(matrix.shape) - 1)
    if rank < 1:
        reduced = matrix.toarray()
    else:
        start = np.random.default_rng(seed).normal(size=min(matrix.shape))
        u, s, _ = svds(matrix.astype(np.float64), k=rank, v0=start)
        order = np.argsort(-s)
        reduced = u[:, order] * s[order]
    reduced = np.asarray(unit_rows(sp.csr_matrix(reduced)).toarray(), dtype=np.float32)
    padded = np.zeros((len(titles), dim), dtype=np.float32)
    padded[:, : min(dim, reduced.shape[1])] = reduced[:, :dim]
    return pd.DataFrame(padded, index=pd.Index(titles.index, name="item_id"))
