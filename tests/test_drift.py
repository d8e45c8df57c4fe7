"""Drift measures of step 6 on real months of the sample, and on periods built to drift."""

import pandas as pd
import pytest

from recft_utils.monitoring import drift


@pytest.fixture(scope="module")
def months(sample):
    interactions = sample[0]
    month = interactions["timestamp"].dt.to_period("M")
    return {str(m): frame for m, frame in interactions.groupby(month)}


def test_a_period_against_itself_does_not_drift(months, vectors):
    october = months["2011-10"]
    report = drift.drift_report(october, october, october, vectors)
    assert report["unseen_share"] == 0 and report["catalogue_churn"] == 0
    assert report["popularity_psi"] == pytest.approx(0, abs=1e-12)
    assert report["embedding_shift"] == pytest.approx(0, abs=1e-9) and report["alerts"] == []


def test_real_months_drift_a_little_and_new_products_show(months, vectors):
    train = pd.concat([months[m] for m in ("2011-01", "2011-02", "2011-03")])
    report = drift.drift_report(train, months["2011-10"], months["2011-11"], vectors)
    assert 0 < report["unseen_share"] < 1 and 0 < report["catalogue_churn"] < 1
    assert report["popularity_psi"] > 0 and 0 < report["embedding_shift"] < 1
    assert set(report["alerts"]) <= set(drift.THRESHOLDS)


def test_a_shop_selling_other_things_raises_the_alerts(months, vectors):
    october = months["2011-10"]
    brand_new = october.assign(item_id="NEW-" + october["item_id"].astype(str))
    report = drift.drift_report(october, october, brand_new, vectors)
    assert report["unseen_share"] == 1.0 and report["catalogue_churn"] == 1.0
    assert report["popularity_psi"] > drift.THRESHOLDS["popularity_psi"]
    assert {"unseen_share", "catalogue_churn", "popularity_psi"} <= set(report["alerts"])


def test_buying_only_christmas_products_moves_the_embedding_more_than_a_random_half(months, vectors):
    october = months["2011-10"]
    christmas = october[october["item_text"].str.contains("CHRISTMAS")]
    half = october.sample(frac=0.5, random_state=0)
    assert drift.embedding_shift(october, christmas, vectors) > 10 * drift.embedding_shift(october, half, vectors)


def test_every_alert_level_comes_with_its_reason():
    from recft_utils.monitoring.drift import THRESHOLDS, threshold_table

    table = threshold_table({"popularity_psi": 0.25})
    assert list(table.index) == list(THRESHOLDS) and table.loc["popularity_psi", "alert above"] == 0.25
    assert (table["why"].str.len() > 20).all()
