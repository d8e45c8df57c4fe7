"""Experiment tracking: MLflow runs in a private store, TensorBoard curves."""

import pytest

from recft_utils.errors import ParameterError
from recft_utils.models.two_tower import TwoTowerConfig


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("RECFT_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def test_two_runs_one_setting_apart_are_compared_with_their_curves(store, sample, vectors):
    from recft_utils.tracking import changed_config, compare_runs, metric_history, tracked_validation_run

    _, valid, _ = sample
    base = TwoTowerConfig(epochs=2, patience=1)
    runs = [
        tracked_validation_run(vectors, valid, config, label, store / label, seed=0)
        for label, config in (("base", base), ("dim 64", changed_config(base, "dim", 64.0)))
    ]
    table = compare_runs(runs)
    assert list(table.columns) == ["base", "dim 64", "differs"]
    assert table.loc["params.dim", "differs"] and not table.loc["params.dropout", "differs"]
    assert table.loc["params.dim", "dim 64"] == "64"  # cast to the setting's type, not 64.0
    assert table.loc["tags.artefact.tensorboard", "base"] == str(store / "base")
    curve = metric_history(runs[0], "valid_ndcg@10")
    assert list(curve["epoch"]) == list(range(1, len(curve) + 1)) and curve["valid_ndcg@10"].between(0, 1).all()
    assert list((store / "base").glob("train/events.out.tfevents.*"))
    assert list((store / "base").glob("validation/events.out.tfevents.*")) == []  # no Keras validation data


def test_an_unknown_setting_is_refused():
    from recft_utils.tracking import changed_config

    with pytest.raises(ParameterError, match="Unknown two-tower setting"):
        changed_config(TwoTowerConfig(), "layers", 3)


def test_a_setting_s_effect_is_read_against_another_seed():
    import pandas as pd

    from recft_utils.tracking import setting_effect_note

    compared = pd.DataFrame(
        {"base": [0.1100], "dropout = 0.4": [0.1095], "again": [0.1108]}, index=["metrics.best_valid_ndcg_at_10"]
    )
    note = setting_effect_note(compared, "base", "dropout = 0.4", "again")
    assert "-0.0005" in note and "+0.0008" in note and "cannot tell the setting from luck" in note
    compared["dropout = 0.4"] = 0.1150
    assert "a first sign that the setting matters" in setting_effect_note(compared, "base", "dropout = 0.4", "again")
