"""The two-tower variants the comparison needs, on the hand-made shop: IDs only, no prior, a title prior."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from synthetic_shop import shop

from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task, evaluate, temporal_split
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender

CONFIG = TwoTowerConfig(epochs=2, dim=8, batch_size=32)


@pytest.fixture(scope="module")
def task_and_vectors():
    interactions = shop()
    task = build_task(interactions, temporal_split(interactions, 20, 20), "test")
    items = np.sort(interactions["item_id"].unique())
    return task, pd.DataFrame(np.random.default_rng(0).normal(size=(len(items), 16)), index=items)


def test_an_id_only_two_tower_is_classical_and_cannot_rank_new_products(task_and_vectors):
    task, vectors = task_and_vectors
    model = TwoTowerRecommender(vectors, replace(CONFIG, text=False, item_ids=True), seed=0).fit(task)
    assert model.family == "classical" and not model.scores_cold_items
    assert "cold" not in evaluate(model, task)
    with pytest.raises(ParameterError, match="needs text, item IDs or both"):
        replace(CONFIG, text=False).checked()


def test_without_the_popularity_prior_its_weight_stays_zero(task_and_vectors):
    task, vectors = task_and_vectors
    model = TwoTowerRecommender(vectors, replace(CONFIG, popularity_prior=False), seed=0).fit(task)
    assert float(model.model.popularity_weight) == 0.0
    assert float(TwoTowerRecommender(vectors, CONFIG, seed=0).fit(task).model.popularity_weight) != 0.0


def test_a_title_prior_gives_new_products_a_demand_of_their_own(task_and_vectors):
    task, vectors = task_and_vectors
    day = np.array([0])  # any day: the title's part does not depend on it
    cold = slice(task.n_warm, len(task.items))
    plain = TwoTowerRecommender(vectors, CONFIG, seed=0).fit(task).model
    assert np.ptp(np.asarray(plain.item_prior(day))[0, cold]) == 0.0  # no prior for new products
    titled = TwoTowerRecommender(vectors, replace(CONFIG, text_prior=True), seed=0).fit(task).model
    assert np.ptp(np.asarray(titled.item_prior(day))[0, cold]) > 0.0
