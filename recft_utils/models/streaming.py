"""Training examples that scale with the data, not with data × catalogue.

The two-tower model learns from one example per order (see
:mod:`~recft_utils.models.training_data`). Each example needs two sets of
catalogue columns: the order's new items (its targets) and every item the
customer bought before (masked out of its softmax). Held as dense
(examples × catalogue) matrices, they take 300 GB for 3 million orders over
100,000 products. Here they stay as :class:`ColumnLists` (flat column indices
and row offsets, the CSR layout), and each batch expands only its own rows
inside the training step: memory grows with the purchases.

Above :data:`SAMPLED_SOFTMAX_MIN_ITEMS` products, a full softmax costs a
(batch × catalogue) product per step; a **sampled softmax** scores each
example against the batch's own targets and ``negatives`` products drawn by
popularity, and subtracts each candidate's log-probability of being drawn
(the *logQ correction*, Yi et al., 2019) so that popular products are not
over-penalised for being drawn often.
"""

from __future__ import annotations

import numpy as np

from recft_utils.keras_backend import tf
from recft_utils.models.training_data import ColumnLists

SAMPLED_SOFTMAX_MIN_ITEMS = 20_000  # below it the full softmax is cheap and exact: keep it
DEFAULT_NEGATIVES = 2_048  # products drawn per step for the sampled softmax


def as_constants(lists: ColumnLists) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``lists`` as TensorFlow constants (values, starts, ends), for the functions below."""
    return tf.constant(lists.values), tf.constant(lists.starts), tf.constant(lists.ends)


def _flat(lists, rows):
    """(batch row of each entry, column of each entry) of examples ``rows``; ``lists``: :func:`as_constants`."""
    values, starts, ends = lists
    rows = tf.cast(rows, tf.int64)
    positions = tf.ragged.range(tf.gather(starts, rows), tf.gather(ends, rows))
    return tf.cast(positions.value_rowids(), tf.int32), tf.gather(values, positions.flat_values)


def dense_rows(lists, rows, width: int, dtype=tf.float32) -> tf.Tensor:
    """(len(rows), width): 1 at each listed column of each example in ``rows``, 0 elsewhere.

    The same matrix :func:`~recft_utils.models.training_data.multi_hot` builds, for one batch only.
    """
    batch_row, column = _flat(lists, rows)
    indices = tf.stack([batch_row, column], axis=1)
    shape = tf.stack([tf.shape(rows)[0], width])
    return tf.tensor_scatter_nd_max(tf.zeros(shape, dtype), indices, tf.ones(tf.shape(column), dtype))


def batch_columns(lists, rows) -> tf.Tensor:
    """The distinct columns listed by examples ``rows`` (e.g. the batch's targets)."""
    return tf.unique(_flat(lists, rows)[1])[0]


def membership(lists, rows, candidates, width: int) -> tf.Tensor:
    """(len(rows), len(candidates)) bool: whether each candidate column is in each example's list.

    One sorted search of (row, column) keys: O(rows × candidates × log entries), never a
    (rows × catalogue) matrix. ``width`` is the catalogue size (any bound on the columns).
    """
    batch_row, column = _flat(lists, rows)
    width = tf.cast(width, tf.int64)
    keys = tf.sort(tf.cast(batch_row, tf.int64) * width + tf.cast(column, tf.int64))
    query = tf.range(tf.shape(rows, out_type=tf.int64)[0])[:, None] * width + tf.cast(candidates, tf.int64)[None, :]
    keys = tf.concat([keys, [tf.int64.max]], axis=0)  # a sentinel: an empty batch searches too
    found = tf.gather(keys, tf.searchsorted(keys, tf.reshape(query, [-1])))
    return tf.reshape(tf.equal(found, tf.reshape(query, [-1])), tf.shape(query))


def popularity_sampler(counts: np.ndarray, power: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative distribution, log-probability) of drawing each column: counts ** ``power``, smoothed so
    that every column can be drawn (word2vec's unigram^0.75)."""
    weights = (np.asarray(counts, dtype=np.float64) + 1.0) ** power
    probability = weights / weights.sum()
    return np.cumsum(probability).astype(np.float32), np.log(probability).astype(np.float32)


def draw(cdf, n: int, seed=None) -> tf.Tensor:
    """``n`` columns drawn with replacement from ``cdf`` (inverse-CDF: O(n log catalogue), not O(catalogue))."""
    uniform = tf.random.uniform((n,), maxval=cdf[-1], seed=seed)
    return tf.minimum(tf.searchsorted(cdf, uniform, side="right"), tf.shape(cdf, out_type=tf.int32)[0] - 1)
