"""The approximate top-k index beside the SavedModel (recft_utils.serving.ann), on 5,000 synthetic
items shaped like a trained model's: recall against exact search, exclusions, the file round trip."""

import numpy as np
import pytest

from recft_utils.benchmark.ann_search import clustered_catalogue, compare_with_exact
from recft_utils.serving.ann import AnnIndex, AnnSettings, exact_top_k, index_vectors, query_vectors


@pytest.fixture(scope="module")
def catalogue():
    return clustered_catalogue(5000, dim=32, users=200, seed=1)


@pytest.fixture(scope="module")
def index(catalogue):
    items, prior, _ = catalogue
    return AnnIndex.build(items, prior)


def test_the_index_vectors_have_one_length_and_their_inner_product_is_the_score(catalogue):
    items, prior, users = catalogue
    vectors, length = index_vectors(items, prior)
    assert vectors.shape == (len(items), items.shape[1] + 2)
    assert np.allclose(np.linalg.norm(vectors, axis=1), length, rtol=1e-4)
    assert np.allclose(query_vectors(users[:5]) @ vectors.T, users[:5] @ items.T + prior, atol=1e-4)


def test_recall_at_10_against_exact_search_is_at_least_0_95(catalogue, index):
    items, prior, users = catalogue
    measured = compare_with_exact((items, prior), users, k=10)
    assert measured["recall"] >= 0.95, measured
    assert measured["queries"] == len(users) and measured["items"] == len(items)
    assert measured["exact_ms_per_query"] > 0 and measured["ann_ms_per_query"] > 0
    assert measured["speedup"] == pytest.approx(measured["exact_ms_per_query"] / measured["ann_ms_per_query"])


def test_the_found_items_are_re_scored_exactly_and_excluded_ones_never_come_back(catalogue, index):
    items, prior, users = catalogue
    user = users[0]
    exact_rows, exact_scores = exact_top_k(index.scorer, user, 10)
    blocked = exact_rows[:3]
    rows, scores = index.top_k(user, 10, blocked=blocked)
    assert len(rows) == 10 and not set(blocked) & set(rows)
    assert np.allclose(scores, items[rows] @ user + prior[rows], atol=1e-5)  # float32, not the index's float16
    assert (np.diff(scores) <= 0).all()
    expected, _ = exact_top_k(index.scorer, user, 10, blocked=blocked)
    assert len(set(rows) & set(expected)) >= 9


def test_an_index_saved_and_loaded_answers_the_same(catalogue, index, tmp_path):
    items, prior, users = catalogue
    path = index.save(tmp_path / "index.usearch")
    settings = AnnSettings(**{key: index.describe()[key] for key in AnnSettings.__dataclass_fields__})
    loaded = AnnIndex.load(path, items, prior, settings)
    assert loaded.index.expansion_search == settings.expansion_search
    for user in users[:10]:
        assert list(loaded.top_k(user, 10)[0]) == list(index.top_k(user, 10)[0])
    with pytest.raises(ValueError, match="not an index of these"):
        AnnIndex.load(path, items[:10], prior[:10], settings)
    again = AnnIndex.build(items, prior).save(tmp_path / "again.usearch")
    assert again.read_bytes() == path.read_bytes()  # one build thread: an export is reproducible


def test_without_the_length_equalising_dimension_the_inner_product_graph_misses_most_of_the_top_10(catalogue):
    """Why ``index_vectors`` adds a dimension: the same HNSW over ``[v, prior]`` alone (what the inner
    product metric suggests) is trapped among the longest vectors."""
    from usearch.index import Index

    items, prior, users = catalogue
    plain = Index(
        ndim=items.shape[1] + 1, metric="ip", dtype="f16", connectivity=16, expansion_add=128, expansion_search=128
    )
    plain.add(np.arange(len(items), dtype=np.uint64), np.hstack([items, prior[:, None]]), threads=1)
    recall = []
    for user in users[:50]:
        found = plain.search(np.append(user, 1).astype(np.float32), 30, threads=1).keys.astype(np.int64)
        found = found[np.argsort(-(items[found] @ user + prior[found]))[:10]]
        recall.append(len(np.intersect1d(found, exact_top_k(np.hstack([items, prior[:, None]]), user, 10)[0])) / 10)
    assert np.mean(recall) < 0.8  # 0.59 measured (and 1.0 with it)
