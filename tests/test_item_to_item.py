"""Item-to-item models (EASE dense, ItemKNN sparse and blocked) and the choice between them."""

import numpy as np
import pytest
import scipy.sparse as sp

from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task, temporal_split
from recft_utils.evaluation.metrics import top_k
from recft_utils.models.item_to_item import (
    EASE,
    ItemKNN,
    ItemModelChoice,
    choose_item_model,
    dense_ease_cost,
    spd_inverse,
)

pytestmark = pytest.mark.unit

GB = 10**9
RATES = {"float64": 4e-11, "float32": 1e-11}  # seconds per cubed row: a 2-core laptop's order of magnitude


@pytest.fixture(scope="module")
def task():
    from recft_utils.datasets.synthetic import STYLES, synthetic_shop

    interactions = synthetic_shop(items=600, interactions=30_000, seed=1, **STYLES["grocery"])
    return build_task(interactions, temporal_split(interactions, 30, 30), "test")


def test_the_in_place_inverse_matches_numpy_and_allocates_no_second_matrix():
    rng = np.random.default_rng(0)
    sample = rng.random((300, 40))
    matrix = sample @ sample.T + np.eye(300)
    expected = np.linalg.inv(matrix)
    work = np.asfortranarray(matrix)
    inverse = spd_inverse(work, block=64)
    assert np.shares_memory(inverse, work) and np.allclose(inverse, expected) and np.allclose(inverse, inverse.T)


def test_float32_ease_ranks_like_float64_for_nearly_every_customer(task):
    rows = np.arange(len(task.users))
    lists = {
        dtype: top_k(EASE(300, dtype).fit(task).score(rows)[:, : task.n_warm], 10) for dtype in ("float64", "float32")
    }
    same = (np.sort(lists["float64"], axis=1) == np.sort(lists["float32"], axis=1)).all(axis=1)
    assert same.mean() >= 0.98, f"{same.mean():.1%} of the top-10 lists are the same"


def test_blocked_itemknn_is_bit_for_bit_the_whole_computation(task):
    whole = ItemKNN(20).fit(task, block=len(task.items))
    blocked = ItemKNN(20).fit(task, block=37)
    assert (whole.similarity != blocked.similarity).nnz == 0
    columns = blocked.item_weights.tocsc()
    for j in range(columns.shape[1]):  # 20 strongest links, and those tied with the 20th
        kept = columns.data[columns.indptr[j] : columns.indptr[j + 1]]
        assert len(kept) <= 20 or (kept > kept.min()).sum() < 20


def test_the_weights_give_the_scores(task):
    rows = np.arange(5)
    bought = (task.matrix[rows] > 0).astype(float)
    for model in (EASE(100).fit(task), ItemKNN(20).fit(task)):
        scores = bought @ model.item_weights
        assert np.allclose(scores.toarray() if sp.issparse(scores) else scores, model.score(rows))


def test_the_choice_follows_the_budgets_and_says_why():
    small = choose_item_model(4_000, memory=16 * GB, rates=RATES)
    assert (small.model, small.dtype) == ("EASE", "float64") and "it fits" in small.reason
    middle = choose_item_model(12_000, memory=16 * GB, rates=RATES)  # float64 3 × 1.15 GB but 69 s: float32 17 s
    assert (middle.model, middle.dtype) == ("EASE", "float32")
    large = choose_item_model(23_683, memory=16 * GB, rates=RATES)
    assert large.model == "ItemKNN" and "dense EASE in float32 on 23,683 products needs about 4.5 GB" in large.reason
    assert "2 min a fit (budget 30 s" in large.reason
    tight = choose_item_model(8_000, memory=int(1 * GB), rates=RATES)  # fast enough, but not in half a gigabyte
    assert tight.model == "ItemKNN" and "budget 0.5 GB" in tight.reason
    assert choose_item_model(500, "ItemKNN", memory=16 * GB, rates=RATES).model == "ItemKNN"
    forced = choose_item_model(23_683, "EASE", memory=16 * GB, rates=RATES)
    assert (forced.model, forced.dtype) == ("EASE", "float32") and "as asked" in forced.reason
    with pytest.raises(ParameterError, match="does not fit this machine's memory.*item_model='ItemKNN'"):
        choose_item_model(70_000, "EASE", memory=16 * GB, rates=RATES)
    with pytest.raises(ParameterError, match="item_model must be one of auto, EASE, ItemKNN"):
        choose_item_model(100, "ease")


def test_a_choice_survives_its_file_and_builds_its_model():
    choice = choose_item_model(30_000, memory=16 * GB, rates=RATES)
    again = ItemModelChoice.from_dict(choice.as_dict())
    assert again == choice and isinstance(again.build(), ItemKNN)
    older = ItemModelChoice.from_dict(None)  # a run of an older recft: EASE in float64, as it was
    assert isinstance(older.build(), EASE) and older.build().dtype == "float64"
    assert dense_ease_cost(10_000, "float32", rate=1e-11) == (0.8, 10.0)
