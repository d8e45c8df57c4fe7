"""A synthetic shop: seeded interactions with the structure a recommender needs, at any size.

**Synthetic data, never a result.** It exists so that tests run in seconds without the
dataset mirror, and so that cost can be measured at sizes no real extract here has. What
it has, each by construction:

- **a product vocabulary**: every product belongs to a category (mug, candle, lamp, ...)
  and its title names the category with a colour and a material ("blue ceramic tea mug"),
  so that text carries signal: customers favour one or two categories;
- **power-law popularity**: within the catalogue, a product's weight falls as its
  popularity rank to the power ``-zipf``;
- **new products over time**: a share of the catalogue launches during the period (some
  in the last weeks, so the test window has products nobody bought before);
- **seasonality**: more orders at the end of the year and at weekends;
- **repeat purchases**: each customer has a few staples bought again and again;
- **customers who arrive over time**, each with a country (skewed, like a real shop's).

Schema: :mod:`recft_utils.datasets.interactions` (``user_id, item_id, timestamp,
item_text, quantity, price, country, order_id``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError

CATEGORIES = {  # category: its nouns (the last word of every title of the category)
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
COUNTRIES = ["United Kingdom", "Germany", "France", "Netherlands", "Spain", "Ireland", "Belgium", "Norway"]
COUNTRY_SHARE = np.array([0.72, 0.08, 0.07, 0.04, 0.03, 0.03, 0.02, 0.01])


def parse_spec(spec: str) -> tuple[int, int]:
    """``synthetic:ITEMS:INTERACTIONS`` (e.g. ``synthetic:4000:400000``) as two positive numbers."""
    parts = spec.split(":")
    try:
        if len(parts) != 3 or parts[0] != "synthetic":
            raise ValueError
        items, interactions = int(parts[1]), int(parts[2])
        if items < 20 or interactions < 10 * items:
            raise ValueError
    except ValueError:
        raise ParameterError(f"A synthetic dataset is named synthetic:ITEMS:INTERACTIONS with at least 20 items and "
                             f"10 interactions per item, e.g. synthetic:4000:400000; got {spec!r}.") from None
    return items, interactions


def catalogue(items: int, rng: np.random.Generator, days: int, new_share: float) -> pd.DataFrame:
    """One row per product: id, category, title, price, launch day and popularity weight."""
    names = [(category, noun) for category, nouns in CATEGORIES.items() for noun in nouns]
    pick = rng.integers(len(names), size=items)
    colour, material = rng.integers(len(COLOURS), size=items), rng.integers(len(MATERIALS), size=items)
    launch = np.where(rng.random(items) < new_share, rng.integers(days // 4, days, size=items), 0)
    return pd.DataFrame({
        "item_id": [f"P{i:06d}" for i in range(items)],
        "category": [names[p][0] for p in pick],
        "item_text": [f"{COLOURS[c]} {MATERIALS[m]} {names[p][1]}" for p, c, m in zip(pick, colour, material)],
        "price": np.round(rng.lognormal(1.2, 0.6, size=items), 2),
        "launch_day": launch,
        "weight": rng.permutation(np.arange(1, items + 1) ** -1.1),  # Zipf over a random rank
    })


def _order_days(orders: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """Days of ``orders`` orders: busier at weekends and towards the end of each year."""
    day = np.arange(days)
    rate = (1 + 0.35 * (day % 7 >= 5)) * (1 + 0.8 * np.clip((day % 365 - 270) / 90, 0, 1))
    return np.sort(rng.choice(days, size=orders, p=rate / rate.sum()))


def _pick_in(candidates: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> int:
    return int(candidates[rng.choice(len(candidates), p=weights / weights.sum())])


def synthetic_shop(items: int = 200, interactions: int = 10_000, days: int = 365, start: str = "2030-01-01",
                   seed: int = 0, new_share: float = 0.2, lines_per_order: float = 2.5,
                   repeat_share: float = 0.3) -> pd.DataFrame:
    """A seeded synthetic shop of about ``interactions`` purchased lines over ``days`` days (see the module).

    Customers are about ``interactions / 12`` (so a customer orders a few times); the same
    arguments give the same table.
    """
    if items < 20 or interactions < 10 * items or days < 60:
        raise ParameterError(f"A synthetic shop needs at least 20 items, 10 interactions per item and 60 days "
                             f"(got {items}, {interactions}, {days}).")
    rng = np.random.default_rng(seed)
    products = catalogue(items, rng, days, new_share)
    orders = max(1, int(interactions / lines_per_order))
    customers = max(10, interactions // 12)
    arrival = np.sort(rng.integers(0, days - 30, size=customers))
    favourite = rng.integers(len(CATEGORIES), size=(customers, 2))
    country = rng.choice(len(COUNTRIES), size=customers, p=COUNTRY_SHARE / COUNTRY_SHARE.sum())
    activity = rng.pareto(1.5, size=customers) + 1  # a few customers order far more often
    category_code = pd.Categorical(products["category"], categories=list(CATEGORIES)).codes
    staples: dict[int, np.ndarray] = {}
    rows = []
    for order, day in enumerate(_order_days(orders, days, rng)):
        arrived = np.searchsorted(arrival, day, side="right")
        customer = _pick_in(np.arange(max(arrived, 1)), activity[:max(arrived, 1)], rng)
        on_sale = np.flatnonzero(products["launch_day"].to_numpy() <= day)
        for _ in range(max(1, rng.poisson(lines_per_order - 1) + 1)):
            if customer in staples and rng.random() < repeat_share:
                item = int(rng.choice(staples[customer]))
            else:
                liked = on_sale[np.isin(category_code[on_sale], favourite[customer])]
                pool = liked if len(liked) and rng.random() < 0.75 else on_sale
                item = _pick_in(pool, products["weight"].to_numpy()[pool], rng)
            staples.setdefault(customer, rng.choice(on_sale, size=3))
            rows.append((customer, item, day, order))
    customer_of, item_of, day_of, order_of = (np.array(column) for column in zip(*rows))
    seconds = rng.integers(8 * 3600, 20 * 3600, size=len(rows))
    when = pd.Timestamp(start) + pd.to_timedelta(day_of, unit="D") + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame({
        "user_id": [f"C{c:07d}" for c in customer_of],
        "item_id": products["item_id"].to_numpy()[item_of],
        "timestamp": when,
        "item_text": products["item_text"].to_numpy()[item_of],
        "quantity": rng.integers(1, 7, size=len(rows)),
        "price": products["price"].to_numpy()[item_of],
        "country": np.array(COUNTRIES)[country[customer_of]],
        "order_id": [f"S{o:08d}" for o in order_of],
    })
    # an order has one time: its first line's
    frame["timestamp"] = frame.groupby("order_id")["timestamp"].transform("min")
    return frame.sort_values(["timestamp", "order_id"], kind="stable").reset_index(drop=True)
