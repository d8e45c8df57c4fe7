"""A product's later name never reaches an earlier window: titles are taken as first seen."""

import numpy as np
import pandas as pd
from synthetic_shop import shop

from recft_utils.datasets.cleaning import clean_online_retail
from recft_utils.datasets.preparation import catalogue_titles
from recft_utils.evaluation import build_task, evaluate, temporal_split
from recft_utils.models.baselines import TitleNeighbourPopularity

RENAMED = "mug-red"


def raw_export(interactions: pd.DataFrame) -> pd.DataFrame:
    """The shop written as a raw Online Retail export (what ``clean_online_retail`` reads)."""
    codes = {item: f"{10000 + i}" for i, item in enumerate(sorted(interactions["item_id"].unique()))}
    return pd.DataFrame(
        {
            "InvoiceNo": interactions["order_id"].str[1:],
            "StockCode": interactions["item_id"].map(codes),
            "Description": interactions["item_text"].str.upper(),
            "Quantity": 1,
            "InvoiceDate": interactions["timestamp"],
            "UnitPrice": 1.0,
            "CustomerID": interactions["user_id"].str[1:].astype(float),
            "Country": "United Kingdom",
        }
    )


def renamed_late(raw: pd.DataFrame, code: str, after: pd.Timestamp) -> pd.DataFrame:
    """``code`` sold under a new name from ``after`` on: by then its most frequent name overall."""
    changed = raw.copy()
    late = (changed["StockCode"] == code) & (changed["InvoiceDate"] >= after)
    changed.loc[late, "Description"] = "LIMITED EDITION RED MUG"
    return changed


def test_a_late_rename_changes_no_earlier_title_and_no_earlier_score():
    interactions = shop()
    raw = raw_export(interactions)
    code = raw.loc[interactions["item_id"] == RENAMED, "StockCode"].iloc[0]
    split = temporal_split(interactions, 20, 20)
    # renamed from 30 days into the data: most of its sales are under the new name
    changed = renamed_late(raw, code, raw["InvoiceDate"].min() + pd.Timedelta(days=30))
    assert (changed.loc[changed["StockCode"] == code, "Description"] == "LIMITED EDITION RED MUG").mean() > 0.5

    before, _ = clean_online_retail(raw)
    after, report = clean_online_retail(changed)
    assert catalogue_titles(before).equals(catalogue_titles(after))  # every title, in every window
    assert after.loc[after["item_id"] == code, "item_text"].unique().tolist() == ["RED TEA MUG"]
    assert "first seen" in report["why"].iloc[-1]

    # a title model of the validation window scores exactly as before
    scores = []
    for data in (before, after):
        task = build_task(data, split, "valid")
        model = TitleNeighbourPopularity(catalogue_titles(data), neighbours=3, days=14).fit(task)
        scores.append(evaluate(model, task, views=("cold",))["cold"]["ndcg"].to_numpy())
    np.testing.assert_array_equal(scores[0], scores[1])
