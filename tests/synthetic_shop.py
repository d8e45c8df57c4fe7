"""A small hand-made shop for tests that need no dataset mirror: seconds, not minutes.

120 days, 40 customers, three orders a day of two products each. Mugs sell
far more than lamps. With 20-day windows, a new bag appears in the
validation window, and a new mug and a new lamp in the test window.
"""

import numpy as np
import pandas as pd

TITLES = {
    "mug-red": "red tea mug",
    "mug-blue": "blue tea mug",
    "lamp": "desk lamp",
    "candle": "scented candle",
    "bag": "jute shopping bag",
    "card": "birthday card",
    "bag-new": "paper shopping bag",
    "mug-new": "green tea mug",
    "lamp-new": "floor lamp",
}
# relative sales, and the day a product is first on sale
WEIGHT = {
    "mug-red": 8,
    "mug-blue": 6,
    "lamp": 1,
    "candle": 2,
    "bag": 3,
    "card": 2,
    "bag-new": 2,
    "mug-new": 7,
    "lamp-new": 2,
}
FIRST_DAY = {"bag-new": 85, "mug-new": 100, "lamp-new": 100}


def shop(days: int = 120, customers: int = 40, seed: int = 0) -> pd.DataFrame:
    """The shop's interactions in the recft schema (``user_id, item_id, timestamp, item_text, order_id``)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-01")
    rows, order = [], 0
    for day in range(days):
        catalogue = [item for item in TITLES if FIRST_DAY.get(item, 0) <= day]
        p = np.array([WEIGHT[item] for item in catalogue], float)
        for user in rng.choice(customers, size=3, replace=False):
            order += 1
            for item in rng.choice(catalogue, size=2, replace=False, p=p / p.sum()):
                rows.append(
                    {
                        "user_id": f"u{user}",
                        "item_id": item,
                        "timestamp": start + pd.Timedelta(days=day, hours=9),
                        "item_text": TITLES[item],
                        "order_id": f"o{order}",
                    }
                )
    return pd.DataFrame(rows)
