"""A synthetic shop: seeded interactions with the structure a recommender needs, at any size.

**Synthetic data, never a result.** It exists so that tests run in seconds without the
dataset mirror, and so that cost can be measured at sizes no real extract here has. What
it has, each by construction:

- **a product vocabulary**: every product belongs to a category (mug, candle, lamp, ...)
  and its title names a design, a colour, a material and the category's noun ("regency
  blue ceramic tea mug"; up to about 116,000 distinct titles), so that text carries
  signal: customers favour one or two categories;
- **power-law popularity**: within the catalogue, a product's weight falls as its
  popularity rank to the power -1.1;
- **new products over time**: a share of the catalogue launches during the period (some
  in the last weeks, so the test window has products nobody bought before);
- **seasonality**: more orders at the end of the year and at weekends;
- **repeat purchases**: each customer has a few staples bought again and again;
- **customers who arrive over time**, each with a country (skewed, like a real shop's).

Generation is vectorised (numpy, one draw per column for all orders or lines at once), so
that ``synthetic_shop(items=100_000, interactions=10_000_000)`` takes about 15 s and 2.5 GB
(2 cores); 10,000 lines take milliseconds.

Schema: :mod:`recft_utils.datasets.interactions` (``user_id, item_id, timestamp,
item_text, quantity, price, country, order_id``); the text columns are pandas strings.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recft_utils.errors import ParameterError

CATEGORIES = {  # category: its nouns (the last words of every title of the category)
    "drinkware": ["tea mug", "coffee cup", "water bottle", "teapot"],
    "lighting": ["desk lamp", "lantern", "candle holder", "fairy lights"],
    "candles": ["scented candle", "pillar candle", "tea lights"],
    "bags": ["shopping bag", "lunch bag", "tote bag"],
    "stationery": ["birthday card", "notebook", "gift wrap", "pencil case"],
    "kitchen": ["cake tin", "baking tray", "recipe box", "apron"],
    "decor": ["photo frame", "wall clock", "cushion cover", "doormat"],
    "garden": ["plant pot", "bird feeder", "watering can"],
}
COLOURS = ["red", "blue", "green", "pink", "white", "black", "ivory", "gold", "silver", "pastel"]
MATERIALS = ["ceramic", "glass", "wooden", "metal", "cotton", "paper", "enamel", "vintage", "retro", "floral"]
DESIGNS = [  # the first word: a collection or pattern, so that a large catalogue has distinct titles
    "regency",
    "nordic",
    "parisian",
    "botanical",
    "spotty",
    "striped",
    "heart",
    "star",
    "woodland",
    "seaside",
    "folk",
    "scandi",
    "art deco",
    "baroque",
    "cottage",
    "moroccan",
    "polka dot",
    "gingham",
    "paisley",
    "chevron",
    "tartan",
    "lace",
    "songbird",
    "owl",
    "fox",
    "rabbit",
    "christmas",
    "summer",
    "jungle",
    "ocean",
    "boho",
    "rustic",
    "antique",
    "classic",
    "modern",
    "mini",
    "jumbo",
    "toadstool",
    "doily",
    "bunting",
]
COUNTRIES = ["United Kingdom", "Germany", "France", "Netherlands", "Spain", "Ireland", "Belgium", "Norway"]
COUNTRY_SHARE = np.array([0.72, 0.08, 0.07, 0.04, 0.03, 0.03, 0.02, 0.01])
MIN_ITEMS, LINES_PER_ITEM, MIN_DAYS = 20, 10, 60
FAVOURITE_SHARE = 0.75  # of the lines that are not repeats: from the customer's favourite categories
STAPLES = 3  # products per customer bought again and again
SPEC = "synthetic:ITEMS:INTERACTIONS[:STYLE]"
# A style is a kind of shop. "gifts" (the default) is like the built-in dataset: many customers who
# order a few narrow baskets, a steep popularity curve, one title per product. "grocery" is like a
# supermarket chain's export (e.g. 2,500 households, 1.5 million lines, 68,000 products): households
# that buy hundreds of lines in large baskets, a flat popularity curve, so that even a sample of
# them buys tens of thousands of products, and category-level texts shared by several products
# (the colour variants of a product share its text, as "soup: chunky 18.8 oz" covers several
# products of a real one).
STYLES = {
    "gifts": {},
    "grocery": {"lines_per_customer": 600, "lines_per_order": 10.0, "popularity_exponent": 0.6, "shared_texts": True},
}


class SyntheticSpec(NamedTuple):
    """A parsed ``synthetic:ITEMS:INTERACTIONS[:STYLE]``."""

    items: int
    interactions: int
    style: str = "gifts"


def _spec_error(spec: str, problem: str, fix: str) -> ParameterError:
    """The error for a bad spec: what is wrong, the form, and how to put it right."""
    return ParameterError(
        f"Dataset {spec!r}: {problem}. A synthetic dataset is named {SPEC} "
        f"(e.g. synthetic:4000:400000, or synthetic:70000:1500000:grocery); {fix}."
    )


def parse_spec(spec: str) -> SyntheticSpec:
    """``synthetic:ITEMS:INTERACTIONS[:STYLE]`` (e.g. ``synthetic:4000:400000``) as a :class:`SyntheticSpec`.

    Raises :class:`ParameterError` naming the problem and the fix: the form, whole numbers, at
    least 20 items and at least 10 interactions per item, a known style (:data:`STYLES`).
    """
    parts = str(spec).split(":")
    if parts[0] != "synthetic":
        raise _spec_error(spec, "it does not start with 'synthetic:'", "write the word synthetic first")
    if len(parts) not in (3, 4):
        raise _spec_error(
            spec,
            f"it has {len(parts)} part(s) separated by ':', not 3 or 4",
            "write the word synthetic, two whole numbers and optionally a style",
        )
    style = parts[3] if len(parts) == 4 else "gifts"
    if style not in STYLES:
        raise _spec_error(spec, f"STYLE {style!r} is unknown", f"use one of {', '.join(STYLES)}")
    try:
        items, interactions = int(parts[1]), int(parts[2])
    except ValueError:
        raise _spec_error(
            spec, "ITEMS and INTERACTIONS must be whole numbers", "write them as digits, without units or decimals"
        ) from None
    if items <= 0:
        raise _spec_error(spec, f"ITEMS is {items}", f"give a positive number of items, at least {MIN_ITEMS}")
    if items < MIN_ITEMS:
        raise _spec_error(spec, f"{items} items are too few for a catalogue", f"give at least {MIN_ITEMS} items")
    if interactions < LINES_PER_ITEM * items:
        raise _spec_error(
            spec,
            f"{interactions} interactions for {items} items are fewer than {LINES_PER_ITEM} per item",
            f"give at least {LINES_PER_ITEM * items} interactions"
            + (
                f" or at most {interactions // LINES_PER_ITEM} items"
                if interactions // LINES_PER_ITEM >= MIN_ITEMS
                else ""
            ),
        )
    return SyntheticSpec(items, interactions, style)


def _labels(prefix: str, numbers: np.ndarray, width: int) -> pd.Index:
    """``prefix`` + each number zero-padded to ``width`` digits, as pandas strings (pyarrow: millions a second)."""
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    return pd.Index(pd.array(pc.binary_join_element_wise(prefix, digits, ""), dtype="str"))


def _titles(items: int, rng: np.random.Generator, shared: bool = False) -> tuple[np.ndarray, list[str]]:
    """Each product's category code and title: distinct titles while the vocabulary lasts.

    ``shared``: the title leaves the colour out, so that a product's colour variants share one text.
    """
    nouns = [(code, noun) for code, names in enumerate(CATEGORIES.values()) for noun in names]
    sizes = (len(DESIGNS), len(COLOURS), len(MATERIALS), len(nouns))
    combos = rng.permutation(int(np.prod(sizes)))[np.arange(items) % int(np.prod(sizes))]
    design, colour, material, noun = np.unravel_index(combos, sizes)
    titles = [
        f"{DESIGNS[d]} {MATERIALS[m]} {nouns[n][1]}"
        if shared
        else f"{DESIGNS[d]} {COLOURS[c]} {MATERIALS[m]} {nouns[n][1]}"
        for d, c, m, n in zip(design, colour, material, noun)
    ]
    return np.array([code for code, _ in nouns])[noun], titles


def catalogue(
    items: int,
    rng: np.random.Generator,
    days: int,
    new_share: float,
    popularity_exponent: float = 1.1,
    shared_texts: bool = False,
) -> pd.DataFrame:
    """One row per product: id, category, title, price, launch day and popularity weight.

    A product's weight is its popularity rank to the power ``-popularity_exponent``; with
    ``shared_texts`` colour variants share a title (see :func:`_titles`).
    """
    category, titles = _titles(items, rng, shared_texts)
    launch = np.where(rng.random(items) < new_share, rng.integers(days // 4, days, size=items), 0)
    price = np.round(rng.lognormal(1.2, 0.6, size=items), 2)
    weight = rng.permutation(np.arange(1, items + 1) ** -popularity_exponent)  # Zipf over a random rank
    launch[np.argmax(weight)] = 0  # the best seller is always on sale, so that every day has a product
    return pd.DataFrame(
        {
            "item_id": _labels("P", np.arange(items), 6),
            "category": pd.Categorical.from_codes(category, categories=list(CATEGORIES)),
            "item_text": pd.array(titles, dtype="str"),
            "price": price,
            "launch_day": launch,
            "weight": weight,
        }
    )


def _order_days(orders: int, days: int, start: str, rng: np.random.Generator) -> np.ndarray:
    """Days of ``orders`` orders, sorted: busier at weekends and towards the end of each year.

    Both by the calendar (from ``start``), so that weekends are Saturdays and Sundays whatever day
    the shop opens.
    """
    date = pd.date_range(start, periods=days, freq="D")
    weekend = np.asarray(date.dayofweek >= 5)
    rate = (1 + 0.35 * weekend) * (1 + 0.8 * np.clip((np.asarray(date.dayofyear) - 270) / 90, 0, 1))
    return np.sort(rng.choice(days, size=orders, p=rate / rate.sum())).astype(np.int32)


def _weighted_draw(cum: np.ndarray, start: np.ndarray, stop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One weighted position in ``[start, stop)`` per row (inverse CDF); ``cum`` is ``[0, w0, w0+w1, ...]``."""
    target = cum[start] + rng.random(len(start)) * (cum[stop] - cum[start])
    return np.clip(np.searchsorted(cum, target, side="right") - 1, start, stop - 1)


class _OnSale:
    """Weighted draws among the products on sale at a day, from any category or from a given one.

    Products are sorted by launch day (overall, and within each category), so that "on sale at
    day d" is a prefix; cumulative weights over each order make a draw one ``searchsorted``.
    """

    def __init__(self, products: pd.DataFrame, days: int):
        category = products["category"].cat.codes.to_numpy().astype(np.int64)
        launch, weight = products["launch_day"].to_numpy(), products["weight"].to_numpy()
        count = np.zeros((len(CATEGORIES), days), np.int64)
        np.add.at(count, (category, launch), 1)
        self.in_category = count.cumsum(axis=1)  # [category, day]: products on sale
        self.in_all = self.in_category.sum(axis=0)
        self.start = np.r_[0, count.sum(axis=1).cumsum()[:-1]]  # each category's first position
        self.by_launch = np.argsort(launch, kind="stable")
        self.by_category = np.lexsort((launch, category))
        self.cum_all = np.r_[0.0, np.cumsum(weight[self.by_launch])]
        self.cum_category = np.r_[0.0, np.cumsum(weight[self.by_category])]

    def mass(self, category: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Total weight of a category's products on sale at ``day`` (0 where none is)."""
        start = self.start[category]
        return self.cum_category[start + self.in_category[category, day]] - self.cum_category[start]

    def any(self, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A product per day, weighted, from all products on sale (there is always one: launch day 0)."""
        return self.by_launch[_weighted_draw(self.cum_all, np.zeros_like(day), self.in_all[day], rng)]

    def of(self, category: np.ndarray, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A product per (category, day), weighted; the category must have one on sale."""
        start = self.start[category]
        return self.by_category[_weighted_draw(self.cum_category, start, start + self.in_category[category, day], rng)]


def _fresh(favourite: np.ndarray, day: np.ndarray, on_sale: _OnSale, rng: np.random.Generator) -> np.ndarray:
    """Products bought not as a staple: mostly from one of the customer's two favourite categories.

    ``favourite`` is ``(n, 2)``; the category is drawn by its weight on sale that day, as if the
    two were one pool, and lines whose favourites have nothing on sale yet draw from everything.
    """
    first, second = on_sale.mass(favourite[:, 0], day), on_sale.mass(favourite[:, 1], day)
    pick_first = rng.random(len(day)) * (first + second) < first
    category = np.where(pick_first, favourite[:, 0], favourite[:, 1])
    liked = (rng.random(len(day)) < FAVOURITE_SHARE) & (first + second > 0)
    item = on_sale.any(day, rng)
    item[liked] = on_sale.of(category[liked], day[liked], rng)
    return item


def _customers_of(
    order_day: np.ndarray, arrival: np.ndarray, activity: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Each order's customer, weighted by activity among those arrived by its day (sorted by arrival)."""
    arrived = np.maximum(np.searchsorted(arrival, order_day, side="right"), 1)
    return _weighted_draw(np.r_[0.0, np.cumsum(activity)], np.zeros_like(arrived), arrived, rng).astype(np.int32)


def _check_size(items: int, interactions: int, days: int) -> None:
    """The same minimums as :func:`parse_spec`, for direct calls (and at least 60 days)."""
    if items < MIN_ITEMS or interactions < LINES_PER_ITEM * items or days < MIN_DAYS:
        raise ParameterError(
            f"A synthetic shop needs at least {MIN_ITEMS} items, {LINES_PER_ITEM} interactions "
            f"per item and {MIN_DAYS} days (got {items}, {interactions}, {days})."
        )


def synthetic_shop(
    items: int = 200,
    interactions: int = 10_000,
    days: int = 365,
    start: str = "2030-01-01",
    seed: int = 0,
    new_share: float = 0.2,
    lines_per_order: float = 2.5,
    repeat_share: float = 0.3,
    lines_per_customer: int = 12,
    popularity_exponent: float = 1.1,
    shared_texts: bool = False,
) -> pd.DataFrame:
    """A seeded synthetic shop of about ``interactions`` purchased lines over ``days`` days (see the module).

    Customers are about ``interactions / lines_per_customer`` (12: a customer orders a few times;
    see :data:`STYLES` for a grocery chain's settings); an order has
    one customer, one time and ``1 + Poisson(lines_per_order - 1)`` lines; a line after the
    customer's first order is one of their staples with probability ``repeat_share``. Rows are
    sorted by timestamp, and order ids follow time. The same arguments give the same table.
    """
    _check_size(items, interactions, days)
    rng = np.random.default_rng(seed)
    products = catalogue(items, rng, days, new_share, popularity_exponent, shared_texts)
    on_sale = _OnSale(products, days)
    customers = max(10, interactions // lines_per_customer)
    arrival = np.sort(rng.integers(0, days - 30, size=customers))
    favourite = rng.integers(len(CATEGORIES), size=(customers, 2))
    country = rng.choice(len(COUNTRIES), size=customers, p=COUNTRY_SHARE / COUNTRY_SHARE.sum())
    activity = rng.pareto(1.5, size=customers) + 1  # a few customers order far more often

    orders = max(1, int(interactions / lines_per_order))
    order_day = _order_days(orders, days, start, rng)
    order_second = rng.integers(8 * 3600, 20 * 3600, size=orders)
    by_time = np.lexsort((order_second, order_day))  # so that order ids follow time
    order_day, order_second = order_day[by_time], order_second[by_time]
    order_customer = _customers_of(order_day, arrival, activity, rng)
    # staples: drawn like any purchase, on the day of the customer's first order
    buyers, first_order = np.unique(order_customer, return_index=True)
    staple_of = np.full(customers, -1, np.int64)
    staple_of[buyers] = np.arange(len(buyers))
    staples = _fresh(
        np.repeat(favourite[buyers], STAPLES, axis=0), np.repeat(order_day[first_order], STAPLES), on_sale, rng
    ).reshape(len(buyers), STAPLES)

    line_order = np.repeat(np.arange(orders, dtype=np.int32), rng.poisson(lines_per_order - 1, size=orders) + 1)
    line_customer, line_day = order_customer[line_order], order_day[line_order]
    item = _fresh(favourite[line_customer], line_day, on_sale, rng)
    repeat = (line_order != first_order[staple_of[line_customer]]) & (rng.random(len(line_order)) < repeat_share)
    item[repeat] = staples[staple_of[line_customer[repeat]], rng.integers(STAPLES, size=int(repeat.sum()))]
    return _frame(
        products,
        start,
        line_order,
        line_customer,
        item,
        order_day,
        order_second,
        country,
        rng.integers(1, 7, size=len(line_order)),
    )


def _frame(
    products: pd.DataFrame,
    start: str,
    line_order: np.ndarray,
    line_customer: np.ndarray,
    item: np.ndarray,
    order_day: np.ndarray,
    order_second: np.ndarray,
    country: np.ndarray,
    quantity: np.ndarray,
) -> pd.DataFrame:
    """The lines in recft's schema; the string columns are taken from one label per customer, product
    and order (fast, and they share nothing with a Python object per row)."""
    when = pd.Timestamp(start).as_unit("us").to_datetime64() + (
        order_day.astype(np.int64) * 86_400 + order_second
    ).astype("timedelta64[s]")
    customer_codes, customer_ids = pd.factorize(line_customer, sort=True)
    return pd.DataFrame(
        {
            "user_id": _labels("C", customer_ids, 7).take(customer_codes),
            "item_id": pd.Index(products["item_id"]).take(item),
            "timestamp": pd.DatetimeIndex(when[line_order]).as_unit("us"),
            "item_text": pd.Index(products["item_text"]).take(item),
            "quantity": quantity,
            "price": products["price"].to_numpy()[item],
            "country": pd.Index(COUNTRIES, dtype="str").take(country[line_customer]),
            "order_id": _labels("S", np.arange(len(order_day)), 8).take(line_order),
        }
    )
