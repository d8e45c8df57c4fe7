"""The interface every recommender follows: ``fit(task)``, then ``score(user_rows)``.

``score`` returns a dense (users × catalogue) score matrix in the task's catalogue order.
A model that only knows item IDs cannot score new products (``scores_cold_items = False``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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


def binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix`` with every stored entry set to 1.0: who bought what, whatever the quantity."""
    out = matrix.copy()
    out.data = np.ones_like(out.data, dtype=np.float64)
    return out
