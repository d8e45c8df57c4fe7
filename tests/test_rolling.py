"""The monthly simulation of step 6 on the synthetic shop: every month scored, decisions recorded."""

import pandas as pd
import pytest

from recft_utils.errors import ParameterError
from recft_utils.lifecycle.rolling import last_months, month_windows, simulate
from recft_utils.models.two_tower import TwoTowerConfig


def test_the_months_come_from_the_data_whatever_its_year(shop_sample):
    interactions = shop_sample[0]
    months = last_months(interactions, 2)
    assert months == ["2030-11-01", "2030-12-01"]  # the shop's last two months (it spans 2030)
    earlier = interactions.assign(timestamp=interactions["timestamp"] - pd.DateOffset(years=7))
    assert last_months(earlier, 2) == ["2023-11-01", "2023-12-01"]
    with pytest.raises(ParameterError, match="holds 11 month.*but 40 are simulated"):
        last_months(interactions, 40)


def test_month_windows_validate_just_before_each_month(shop_sample):
    interactions = shop_sample[0]
    windows = month_windows(interactions, last_months(interactions, 2), valid_days=14)
    assert [str(w.test_start.date()) for w in windows] == ["2030-11-01", "2030-12-01"]
    assert str(windows[0].valid_start.date()) == "2030-10-18" and windows[0].end == windows[1].test_start
    assert windows[1].end == interactions["timestamp"].max() + pd.Timedelta(seconds=1)


def test_simulation_scores_every_model_each_month_and_records_why(shop_sample, shop_vectors):
    interactions = shop_sample[0]
    table, decisions = simulate(
        interactions,
        shop_vectors,
        TwoTowerConfig(epochs=2),
        last_months(interactions, 2),
        epochs=2,
        warm_epochs=1,
        progress=False,
    )
    assert [d["month"] for d in decisions] == ["2030-11", "2030-12"]
    assert decisions[0]["decision"] == "promote" and decisions[1]["decision"] in ("promote", "keep")
    assert decisions[1]["reason"] and decisions[1]["customers"] > 0
    december = table[table["month"] == "2030-12"].set_index("model")
    assert {
        "scratch",
        "warm start",
        "last month's champion, not retrained",
        "serving (champion after the decision)",
    } == set(december.index)
    assert table["ndcg@10"].between(0, 1).all() and (december.loc["scratch", "train_seconds"] > 0)
    assert (table["unseen_share"] > 0).all() and table["popularity_psi"].notna().all()


def test_step_6_says_which_model_it_retrains_against_the_served_one():
    from recft_utils.lifecycle.rolling import iterated_model_note

    frozen = {"regime": "frozen", "model": "frozen encoder + adapter", "validation": {"frozen": 0.1}}
    assert "retrains that model" in iterated_model_note(frozen)
    top_k = {"regime": "top_k", "model": "top-k layers", "validation": {"frozen": 0.1, "top_k": 0.1012}}
    note = iterated_model_note(top_k)
    assert "top-k fine-tuning" in note and "+0.0012" in note and "frozen-encoder models" in note
    blend = {
        "regime": "blend",
        "model": "blend: two-tower (frozen) + EASE + recent popularity",
        "validation": {"frozen": 0.1, "blend": 0.12},
    }
    note = iterated_model_note(blend)
    assert note.startswith("Step 4 serves blend:") and "its two-tower part" in note and "recft retrain" in note
    assert "weight 0" in iterated_model_note({**blend, "regime": "classical", "model": "EASE + recent popularity"})


def test_a_month_the_data_covers_in_part_is_flagged():
    from recft_utils.lifecycle.rolling import short_month_note

    days = pd.date_range("2031-01-01", "2031-03-09 12:00", freq="12h")
    interactions = pd.DataFrame({"timestamp": days, "order_id": range(len(days))})
    note = short_month_note(interactions, ["2031-02-01", "2031-03-01"])
    assert note.startswith("Short month: 2031-03 holds 9 of its 31 days (18 orders; the data ends on 2031-03-09)")
    assert "2031-02" not in note  # February is whole
    assert short_month_note(interactions, ["2031-02-01"]) == ""
