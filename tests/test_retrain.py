"""`recft retrain`: a new complete version per date, warm-started from the champion, decision recorded
(on the synthetic shop: its dates come from the data)."""

import pandas as pd
import pytest

from recft_utils.errors import ParameterError
from recft_utils.lifecycle.registry import ModelRegistry
from recft_utils.lifecycle.retrain import retrain
from recft_utils.lifecycle.rolling import last_months
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.serving.model_folder import ServedModel


def test_two_retrains_make_two_versions_and_the_second_is_judged(shop_sample, shop_vectors, tmp_path):
    interactions = shop_sample[0]
    config = TwoTowerConfig(epochs=2)
    earlier, later = last_months(interactions, 2)
    first = retrain(interactions, shop_vectors, config, tmp_path, earlier, epochs=2)
    assert first["action"] == "promote" and first["reason"] == "first model of the registry"
    second = retrain(interactions, shop_vectors, config, tmp_path, later, epochs=2, warm_epochs=1)
    registry = ModelRegistry(tmp_path)
    assert registry.versions() == [first["version"], second["version"]]
    assert second["action"] in ("promote", "keep") and "decision" in second
    # both challengers were judged; the version is the chosen one, with its own epochs and seconds
    assert set(second["decision"]["tests"]) == {"scratch", "warm start"}
    assert second["epochs"] == {"scratch": 2, "warm start": 1}[second["kind"]]
    training = registry.training(second["version"])
    assert training["kind"] == second["kind"] and set(training["challengers_train_seconds"]) == {
        "scratch",
        "warm start",
    }
    assert training["train_seconds"] == training["challengers_train_seconds"][second["kind"]]
    assert registry.state()["history"][-1]["version"] == second["version"]
    served = ServedModel.load(registry.version_dir(second["version"]))
    assert served.metadata["as_of"] == later and served.metadata["source"]["champion"] == first["version"]
    assert not list(registry.versions_dir.glob(".tmp-*"))


def test_a_date_outside_the_data_is_refused(shop_sample, shop_vectors, tmp_path):
    interactions = shop_sample[0]
    first, last = interactions["timestamp"].min(), interactions["timestamp"].max()
    with pytest.raises(ParameterError, match="must leave at least"):
        retrain(
            interactions,
            shop_vectors,
            TwoTowerConfig(epochs=1),
            tmp_path,
            str((first + pd.Timedelta(days=4)).date()),
            epochs=1,
        )
    with pytest.raises(ParameterError, match="outside the data"):
        retrain(
            interactions,
            shop_vectors,
            TwoTowerConfig(epochs=1),
            tmp_path,
            str((last + pd.Timedelta(days=180)).date()),
            epochs=1,
        )


def test_a_served_blend_is_retrained_judged_and_exported_as_a_blend(shop_sample, shop_vectors, tmp_path):
    from recft_utils.experiments.serving_choice import served_blend

    interactions = shop_sample[0]
    choice = {"regime": "blend", "model": "the blend", "blend_weight": 0.6, "classical": {"days": 14, "weight": 0.6}}
    blend = served_blend(choice)
    assert blend == {"classical": {"days": 14, "weight": 0.6}, "weight": 0.6, "model": "the blend"}
    assert served_blend({**choice, "regime": "frozen"}) is None
    assert served_blend({**choice, "regime": "classical"})["weight"] == 0.0
    entry = retrain(
        interactions,
        shop_vectors,
        TwoTowerConfig(epochs=1),
        tmp_path,
        last_months(interactions, 1)[0],
        epochs=1,
        blend=blend,
    )
    served = ServedModel.load(ModelRegistry(tmp_path).version_dir(entry["version"]))
    assert served.metadata["blend"]["weight"] == 0.6 and served.metadata["model"] == "the blend"
    assert len(served.recommend(10, customer_id=str(served.histories.customer_ids[0].decode()))) == 10
