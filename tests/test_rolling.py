"""The monthly simulation of step 6 on the tiny sample: every month scored, decisions recorded."""

import pandas as pd

from recft_utils.lifecycle.rolling import last_months, month_windows, simulate
from recft_utils.models.two_tower import TwoTowerConfig


def test_month_windows_validate_just_before_each_month(sample):
    windows = month_windows(sample[0], ["2011-11-01", "2011-12-01"], valid_days=14)
    assert [str(w.test_start.date()) for w in windows] == ["2011-11-01", "2011-12-01"]
    assert str(windows[0].valid_start.date()) == "2011-10-18" and windows[0].end == windows[1].test_start
    assert windows[1].end == sample[0]["timestamp"].max() + pd.Timedelta(seconds=1)
    assert last_months(sample[0], 2) == ["2011-11-01", "2011-12-01"]  # from the data, not a calendar


def test_simulation_scores_every_model_each_month_and_records_why(sample, vectors):
    table, decisions = simulate(sample[0], vectors, TwoTowerConfig(epochs=2), ["2011-11-01", "2011-12-01"],
                                epochs=2, warm_epochs=1, progress=False)
    assert [d["month"] for d in decisions] == ["2011-11", "2011-12"]
    assert decisions[0]["decision"] == "promote" and decisions[1]["decision"] in ("promote", "keep")
    assert decisions[1]["reason"] and decisions[1]["customers"] > 0
    december = table[table["month"] == "2011-12"].set_index("model")
    assert {"scratch", "warm start", "last month's champion, not retrained",
            "serving (champion after the decision)"} == set(december.index)
    assert table["ndcg@10"].between(0, 1).all() and (december.loc["scratch", "train_seconds"] > 0)
    assert (table["unseen_share"] > 0).all() and table["popularity_psi"].notna().all()
