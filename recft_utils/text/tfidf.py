"""TF-IDF bag-of-words vectors of product titles: text similarity with no neural model.

The weighting is scikit-learn's default (``TfidfVectorizer``): raw term
counts, a smoothed inverse document frequency ``ln((1 + n) / (1 + df)) + 1``
and rows scaled to unit length, over words of two or more letters or digits.
Twenty lines of scipy do it, so the classical baselines need no extra package.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

TOKEN = re.compile(r"(?u)\b\w\w+\b")


def term_counts(titles: Sequence[str]) -> sp.csr_matrix:
    """(titles, vocabulary) word counts, words in order of first appearance."""
    vocabulary: dict[str, int] = {}
    rows, columns = [], []
    for row, title in enumerate(titles):
        for word in TOKEN.findall(str(title).lower()):
            rows.append(row)
            columns.append(vocabulary.setdefault(word, len(vocabulary)))
    counts = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(titles), max(len(vocabulary), 1)))
    counts.sum_duplicates()
    return counts


def tfidf_matrix(titles: Sequence[str]) -> sp.csr_matrix:
    """(titles, vocabulary) TF-IDF rows of unit length; a title with no word gives a zero row."""
    counts = term_counts(titles)
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + len(titles)) / (1 + document_frequency)) + 1
    return unit_rows(counts @ sp.diags(idf))


def unit_rows(matrix) -> sp.csr_matrix:
    """Each row of a sparse matrix scaled to unit length (a zero row stays zero)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    return sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1)) @ matrix)
