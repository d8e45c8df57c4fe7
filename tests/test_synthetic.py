"""The synthetic shop: seeded, in recft's schema, and with the structure its docstring promises."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recft_utils.datasets import check_dataset_name, load_interactions
from recft_utils.datasets.interactions import REQUIRED, read_interactions_file, validate_interactions
from recft_utils.datasets.synthetic import CATEGORIES, catalogue, parse_spec, synthetic_shop
from recft_utils.errors import ParameterError


@pytest.fixture(scope="module")
def shop():
    return synthetic_shop(items=150, interactions=8000, seed=3)


def test_the_same_seed_gives_the_same_shop_and_another_seed_another(shop):
    pd.testing.assert_frame_equal(shop, synthetic_shop(items=150, interactions=8000, seed=3))
    assert not shop.equals(synthetic_shop(items=150, interactions=8000, seed=4))


def test_the_schema_sizes_and_dates(shop):
    assert set(REQUIRED) <= set(shop.columns) and {"quantity", "price", "country", "order_id"} <= set(shop.columns)
    assert 0.8 * 8000 < len(shop) < 1.2 * 8000 and shop["item_id"].nunique() <= 150
    assert shop["timestamp"].is_monotonic_increasing and shop.groupby("order_id")["timestamp"].nunique().max() == 1
    assert shop["timestamp"].min() >= pd.Timestamp("2030-01-01")


def test_popularity_has_a_long_tail(shop):
    customers = shop.groupby("item_id")["user_id"].nunique().sort_values(ascending=False)
    top = customers.head(len(customers) // 10).sum() / customers.sum()
    assert top > 0.3  # the top tenth of the catalogue takes far more than a tenth of the buyers


def test_products_launch_over_time_and_customers_repeat(shop):
    first_sale = shop.groupby("item_id")["timestamp"].min()
    assert (first_sale > shop["timestamp"].min() + pd.Timedelta(days=180)).sum() >= 5  # new products late on
    lines = shop.groupby(["user_id", "item_id"])["order_id"].nunique()
    assert (lines > 1).mean() > 0.05  # the same product bought in several orders


def test_titles_name_their_category_and_customers_favour_categories(shop):
    nouns = {noun: category for category, items in CATEGORIES.items() for noun in items}
    category = shop["item_text"].map(lambda title: next(c for noun, c in nouns.items() if title.endswith(noun)))
    # a customer's purchases concentrate on few categories: more than a uniform choice would give
    share = category.groupby(shop["user_id"]).agg(lambda c: c.value_counts(normalize=True).iloc[0])
    assert share[shop.groupby("user_id").size() >= 10].mean() > 2 / len(CATEGORIES)


def test_the_end_of_the_year_is_busier(shop):
    month = shop.groupby(shop["timestamp"].dt.month)["order_id"].nunique()
    assert month.loc[[11, 12]].mean() > 1.3 * month.loc[[2, 3, 4]].mean()


def test_a_spec_names_the_size_and_bad_specs_say_how_to_write_one():
    assert parse_spec("synthetic:4000:400000") == (4000, 400000, "gifts")
    assert parse_spec("synthetic:30000:300000:grocery") == (30000, 300000, "grocery")
    for bad in ("synthetic:4000", "synthetic:lots:1", "synthetic:10:50", "shop:20:400"):
        with pytest.raises(ParameterError, match="synthetic:ITEMS:INTERACTIONS"):
            parse_spec(bad)
    with pytest.raises(ParameterError, match="at least 20 items"):
        synthetic_shop(items=5, interactions=100)


def test_countries_are_skewed_like_a_real_shop(shop):
    customers = shop.drop_duplicates("user_id")["country"].value_counts(normalize=True)
    assert customers.iloc[0] > 0.5 and len(customers) >= 4
    assert np.isclose(customers.sum(), 1)


def test_weekends_are_saturdays_and_sundays_whatever_the_first_day(shop):
    for frame in (shop, synthetic_shop(items=150, interactions=8000, seed=3, start="2030-01-05")):
        orders = frame.drop_duplicates("order_id")["timestamp"].dt.day_of_week.value_counts()
        assert orders.loc[[5, 6]].min() > orders.loc[[0, 1, 2, 3, 4]].max()


def test_a_large_catalogue_has_mostly_distinct_titles_that_still_name_the_category():
    products = catalogue(50_000, np.random.default_rng(0), 365, 0.2)
    assert products["item_text"].nunique() > 0.95 * len(products)
    nouns = {noun: category for category, items in CATEGORIES.items() for noun in items}
    named = products["item_text"].map(lambda title: next(c for noun, c in nouns.items() if title.endswith(noun)))
    assert (named == products["category"].astype(str)).all()


def test_a_grocery_shop_has_broad_baskets_and_texts_shared_by_several_products():
    """Like a grocery chain's export: a few hundred customers buy most of a large catalogue, and colour
    variants share one category-level text, so that new products can have a warm product's text."""
    from recft_utils.datasets import load_interactions

    grocery, _ = load_interactions("synthetic:30000:300000:grocery", max_customers=200, seed=42)
    assert grocery["user_id"].nunique() == 200 and grocery["item_id"].nunique() > 20_000
    texts = grocery.drop_duplicates("item_id")["item_text"]
    assert texts.nunique() < 0.6 * len(texts)
    gifts = synthetic_shop(items=3000, interactions=60_000, seed=0)
    assert gifts.drop_duplicates("item_id")["item_text"].is_unique


def test_orders_follow_time_and_repeats_are_staples_bought_again(shop):
    orders = shop.drop_duplicates("order_id")
    assert orders["order_id"].is_monotonic_increasing and orders["timestamp"].is_monotonic_increasing
    assert shop.groupby("order_id")["user_id"].nunique().max() == 1
    # a customer's most bought product: bought in far more orders than one chance in the catalogue would give
    most = shop.groupby(["user_id", "item_id"])["order_id"].nunique().groupby("user_id").max()
    assert (most[shop.groupby("user_id")["order_id"].nunique() >= 5] >= 3).mean() > 0.5


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("synthetic:4000", "2 part"),
        ("synthetic:1:2:3:4", "5 part"),
        ("synthetic:300:6000:bakery", "STYLE 'bakery' is unknown.*use one of gifts, grocery"),
        ("shop:20:400", "does not start with 'synthetic:'"),
        ("synthetic", "1 part"),
        ("synthetic:lots:1000", "whole numbers"),
        ("synthetic:20:4e3", "whole numbers"),
        ("synthetic:0:1000", "ITEMS is 0.*positive"),
        ("synthetic:-5:1000", "ITEMS is -5.*positive"),
        ("synthetic:10:50", "10 items are too few.*at least 20 items"),
        ("synthetic:300:200", "fewer than 10 per item.*at least 3000 interactions or at most 20 items"),
        ("synthetic:300:2999", "fewer than 10 per item.*at least 3000 interactions or at most 299 items"),
        ("synthetic:300:100", r"fewer than 10 per item.*at least 3000 interactions\.$"),
    ],
)
def test_each_bad_spec_names_its_problem_and_the_fix(spec, problem):
    with pytest.raises(ParameterError, match=problem) as error:
        parse_spec(spec)
    assert "synthetic:ITEMS:INTERACTIONS" in str(error.value) and repr(spec) in str(error.value)
    with pytest.raises(ParameterError, match=problem if spec.startswith("synthetic") else "Unknown dataset"):
        check_dataset_name(spec)


def test_a_synthetic_spec_is_a_dataset_name_and_unknown_names_mention_it():
    check_dataset_name("synthetic:20:200")
    assert parse_spec("synthetic:20:200") == (20, 200, "gifts")
    with pytest.raises(ParameterError, match="synthetic:ITEMS:INTERACTIONS"):
        check_dataset_name("no-such-dataset")


@pytest.fixture(scope="module")
def loaded():
    return load_interactions("synthetic:300:6000")


def test_load_interactions_generates_the_shop_with_a_fixed_seed(loaded):
    interactions, report = loaded
    pd.testing.assert_frame_equal(interactions, synthetic_shop(items=300, interactions=6000, seed=0))
    assert report[["rule", "rows_removed", "rows_left"]].values.tolist() == [["generated", 0, len(interactions)]]
    assert report["why"].iloc[0].startswith("synthetic shop (not real data, gifts style): 300 products")
    # the sampling seed chooses customers, never another shop
    pd.testing.assert_frame_equal(load_interactions("synthetic:300:6000", seed=7)[0], interactions)


def test_load_interactions_cuts_and_samples_a_synthetic_shop(loaded):
    interactions, _ = loaded
    cut, report = load_interactions("synthetic:300:6000", data_end="2030-10-01")
    assert cut["timestamp"].max() < pd.Timestamp("2030-10-01") and report["rule"].tolist() == ["generated", "data_end"]
    assert report["rows_removed"].iloc[1] == len(interactions) - len(cut) > 0
    sampled, _ = load_interactions("synthetic:300:6000", max_customers=50, seed=1)
    assert sampled["user_id"].nunique() == 50 and set(sampled["user_id"]) <= set(interactions["user_id"])
    pd.testing.assert_frame_equal(sampled, load_interactions("synthetic:300:6000", max_customers=50, seed=1)[0])


def test_the_shop_passes_bring_your_own_validation_unchanged(loaded, tmp_path):
    interactions, _ = loaded
    pd.testing.assert_frame_equal(validate_interactions(interactions, Path("synthetic")), interactions)
    interactions.to_parquet(tmp_path / "shop.parquet", index=False)
    pd.testing.assert_frame_equal(read_interactions_file(tmp_path / "shop.parquet"), interactions)
    for column in ("user_id", "item_id", "order_id", "item_text", "country"):
        assert interactions[column].astype(str).equals(interactions[column])  # plain strings, not categories
