"""Nothing of the test window reaches a model, and no choice is made on it (the hand-made shop)."""

import numpy as np
import pandas as pd
from synthetic_shop import shop

import recft_utils.evaluation as evaluation
from recft_utils.benchmark import window_comparison
from recft_utils.datasets.preparation import catalogue_titles
from recft_utils.evaluation import build_task, protocol, temporal_split
from recft_utils.models import fair_baselines
from recft_utils.models.training_data import daily_popularity, order_examples
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender


def item_vectors(interactions) -> pd.DataFrame:
    items = np.sort(interactions["item_id"].unique())
    return pd.DataFrame(np.random.default_rng(0).normal(size=(len(items), 16)), index=items)


def tampered(interactions, split) -> pd.DataFrame:
    """The test window rewritten: half of the known products' rows deleted, the rest renamed.

    New products keep their rows: their title as listed is all a model may
    know of them (it is known from the day they go on sale).
    """
    test = interactions["timestamp"] >= split.test_start
    known = test & interactions["item_id"].isin(interactions.loc[~test, "item_id"].unique())
    changed = interactions.copy()
    changed.loc[known, "item_text"] = "renamed in the test window"
    return changed[~(known & (np.arange(len(changed)) % 2 == 0))]


def test_changing_the_test_window_changes_no_input_and_no_score_of_the_two_tower():
    interactions = shop()
    split = temporal_split(interactions, 20, 20)
    other = tampered(interactions, split)
    task, other_task = build_task(interactions, split, "test"), build_task(other, split, "test")
    assert task.items.tolist() == other_task.items.tolist()  # the catalogue
    assert np.array_equal(daily_popularity(task), daily_popularity(other_task))  # the popularity table
    histories, targets, seen = order_examples(task)
    other_histories, other_targets, _ = order_examples(other_task)
    assert np.array_equal(histories.items, other_histories.items) and np.array_equal(histories.day, other_histories.day)
    assert [t.tolist() for t in targets] == [t.tolist() for t in other_targets]  # the training examples
    assert catalogue_titles(interactions).equals(catalogue_titles(other))  # the titles
    vectors = item_vectors(interactions)
    config = TwoTowerConfig(epochs=2, dim=8, batch_size=32)
    rows = np.arange(len(task.users))
    first = TwoTowerRecommender(vectors, config, seed=0).fit(task).score(rows)
    second = TwoTowerRecommender(vectors, config, seed=0).fit(other_task).score(rows)
    assert np.array_equal(task.users, other_task.users)
    np.testing.assert_allclose(first, second, rtol=1e-6, atol=1e-6)  # the scores


def test_settings_epochs_and_blend_weight_are_chosen_without_the_test_window(monkeypatch):
    interactions = shop()
    split = temporal_split(interactions, 20, 20)
    choices, finals, in_final = [], [], []
    # every evaluation, choices and final ones, runs through protocol.evaluate_many (fair_baselines
    # imports it by name); the final evaluation of each chosen model is window_comparison.evaluate
    original_many = protocol.evaluate_many

    def any_evaluation(models, task, *args, **kw):
        if not in_final:
            choices.append(task.window)
        return original_many(models, task, *args, **kw)

    for module in (protocol, fair_baselines):
        monkeypatch.setattr(module, "evaluate_many", any_evaluation)
    original = window_comparison.evaluate

    def final_evaluation(m, task, **kw):
        finals.append(task.window)
        in_final.append(True)
        try:
            return original(m, task, **kw)
        finally:
            in_final.pop()

    monkeypatch.setattr(window_comparison, "evaluate", final_evaluation)
    result = window_comparison.compare_on_window(
        interactions,
        split,
        item_vectors(interactions),
        catalogue_titles(interactions),
        seeds=[0],
        base=TwoTowerConfig(epochs=2, dim=8, batch_size=32),
        bootstrap=20,
        progress=False,
    )
    assert choices and set(choices) == {"valid"}
    assert finals and set(finals) == {"test"}
    assert {r["family"] for r in result.records} == {"classical", "lexical", "text-frozen", "blend"}
    # every language-model record names its lexical twin, and the twin was evaluated in the same window
    families = {r["model"]: r["family"] for r in result.records}
    twins = {r["model"]: r["twin"] for r in result.records if "twin" in r}
    assert set(twins) >= {
        window_comparison.TEXT,
        window_comparison.TEXT_IDS,
        window_comparison.BLEND,
        window_comparison.ENCODER_MEAN,
        window_comparison.ENCODER_NEIGHBOURS,
    }
    assert all(families[twin] == "lexical" for twin in twins.values())
    assert not any("twin" in r for r in result.records if r["family"] in ("classical", "lexical"))
    assert result.choices["best_text"] in (window_comparison.TEXT, window_comparison.TEXT_IDS)
    ids_only = [r for r in result.records if r["model"] == window_comparison.IDS_ONLY]
    assert ids_only and {r["family"] for r in ids_only} == {"classical"} and "cold" not in {r["view"] for r in ids_only}


def test_the_keras_tuner_search_sees_the_validation_window_only(monkeypatch, tmp_path):
    from recft_utils.experiments.tuning import search

    interactions = shop()
    split = temporal_split(interactions, 20, 20)
    seen = []
    original = evaluation.evaluate
    monkeypatch.setattr(
        evaluation, "evaluate", lambda m, task, **kw: seen.append(task.window) or original(m, task, **kw)
    )
    search(
        item_vectors(interactions),
        build_task(interactions, split, "valid"),
        TwoTowerConfig(epochs=2, dim=64, batch_size=32),
        trials=1,
        directory=tmp_path,
    )
    assert seen and set(seen) == {"valid"}


def test_products_not_yet_on_sale_are_no_training_negatives():
    from dataclasses import replace

    from recft_utils.models.training_data import first_sale_days

    interactions = shop()
    split = temporal_split(interactions, 20, 20)
    task = build_task(interactions, split, "test")
    first = first_sale_days(task)
    cold = np.arange(task.n_warm, len(task.items))
    assert len(cold) and (first[cold] == first.max()).all() and (first[: task.n_warm] < first.max()).all()
    config = TwoTowerConfig(epochs=2, dim=8, batch_size=32)
    on_sale = TwoTowerRecommender(item_vectors(interactions), config, seed=0).fit(task)
    assert np.all(np.asarray(on_sale.model.bias)[cold] == 0.0)  # no gradient ever reached a new product
    everything = TwoTowerRecommender(item_vectors(interactions), replace(config, on_sale_negatives=False), seed=0)
    assert np.any(np.asarray(everything.fit(task).model.bias)[cold] != 0.0)  # pushed down as never bought
