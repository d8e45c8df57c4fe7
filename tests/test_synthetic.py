"""The synthetic shop: seeded, in recft's schema, and with the structure its docstring promises."""

import numpy as np
import pandas as pd
import pytest

from recft_utils.datasets.interactions import REQUIRED
from recft_utils.datasets.synthetic import CATEGORIES, parse_spec, synthetic_shop
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
    assert parse_spec("synthetic:4000:400000") == (4000, 400000)
    for bad in ("synthetic:4000", "synthetic:lots:1", "synthetic:10:50", "shop:20:400"):
        with pytest.raises(ParameterError, match="synthetic:ITEMS:INTERACTIONS"):
            parse_spec(bad)
    with pytest.raises(ParameterError, match="at least 20 items"):
        synthetic_shop(items=5, interactions=100)


def test_countries_are_skewed_like_a_real_shop(shop):
    customers = shop.drop_duplicates("user_id")["country"].value_counts(normalize=True)
    assert customers.iloc[0] > 0.5 and len(customers) >= 4
    assert np.isclose(customers.sum(), 1)
