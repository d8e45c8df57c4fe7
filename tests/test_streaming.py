"""Training examples kept as column lists, expanded per batch; the sampled softmax's parts."""

import numpy as np
import pytest
import tensorflow as tf

from recft_utils.models.streaming import (ColumnLists, batch_columns, dense_rows, draw, membership,
                                          popularity_sampler)
from recft_utils.models.training_data import multi_hot

LISTS = [np.array([3, 1]), np.array([], dtype=np.int64), np.array([0, 3, 3]), np.array([4])]


def test_a_batch_expands_to_exactly_the_dense_matrix_of_its_rows():
    lists = ColumnLists.from_lists(LISTS)
    values, offsets = lists.constants()
    rows = tf.constant([2, 0, 3, 1])
    expected = multi_hot(LISTS, 6)[[2, 0, 3, 1]].astype(np.float32)
    assert np.array_equal(dense_rows(values, offsets, rows, 6).numpy(), expected)
    assert lists.nbytes < multi_hot(LISTS, 6).nbytes * 10  # (the point is at scale: lists, not width)


def test_batch_columns_and_membership_follow_the_lists():
    values, offsets = ColumnLists.from_lists(LISTS).constants()
    rows = tf.constant([0, 2])
    assert sorted(batch_columns(values, offsets, rows).numpy().tolist()) == [0, 1, 3]
    member = membership(values, offsets, rows, tf.constant([3, 4, 0]), 6).numpy()
    assert member.tolist() == [[True, False, False], [True, False, True]]
    assert not membership(values, offsets, tf.constant([1]), tf.constant([0, 3]), 6).numpy().any()  # an empty list


def test_draws_follow_the_smoothed_popularity():
    cdf, log_q = popularity_sampler(np.array([0, 10, 1000, 0]))
    assert np.isclose(np.exp(log_q).sum(), 1.0) and np.exp(log_q)[2] > 0.7
    tf.random.set_seed(0)
    drawn = draw(tf.constant(cdf), 20_000).numpy()
    assert drawn.min() >= 0 and drawn.max() <= 3
    share = np.bincount(drawn, minlength=4) / len(drawn)
    assert share == pytest.approx(np.exp(log_q), abs=0.02)
