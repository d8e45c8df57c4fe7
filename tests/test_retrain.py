"""`recft retrain`: a new complete version per date, warm-started from the champion, decision recorded."""

import pytest

from recft_utils.errors import ParameterError
from recft_utils.lifecycle.registry import ModelRegistry
from recft_utils.lifecycle.retrain import retrain
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.serving.model_folder import ServedModel


def test_two_retrains_make_two_versions_and_the_second_is_judged(sample, vectors, tmp_path):
    interactions = sample[0]
    config = TwoTowerConfig(epochs=2)
    first = retrain(interactions, vectors, config, tmp_path, "2011-11-01", epochs=2)
    assert first["action"] == "promote" and first["reason"] == "first model of the registry"
    second = retrain(interactions, vectors, config, tmp_path, "2011-12-01", epochs=2, warm_epochs=1)
    registry = ModelRegistry(tmp_path)
    assert registry.versions() == [first["version"], second["version"]]
    assert second["action"] in ("promote", "keep") and "decision" in second and second["epochs"] == 1
    assert registry.state()["history"][-1]["version"] == second["version"]
    served = ServedModel.load(registry.versions_dir / second["version"])
    assert served.metadata["as_of"] == "2011-12-01" and served.metadata["source"]["champion"] == first["version"]
    assert not list(registry.versions_dir.glob(".tmp-*"))


def test_a_date_outside_the_data_is_refused(sample, vectors, tmp_path):
    with pytest.raises(ParameterError, match="must leave at least"):
        retrain(sample[0], vectors, TwoTowerConfig(epochs=1), tmp_path, "2010-12-05", epochs=1)
    with pytest.raises(ParameterError, match="lie within the data"):
        retrain(sample[0], vectors, TwoTowerConfig(epochs=1), tmp_path, "2012-06-01", epochs=1)
