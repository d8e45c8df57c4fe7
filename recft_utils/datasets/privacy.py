"""Personal data in a shop's purchase lines, and pseudonymous customer ids.

A purchase line is about a person: the customer id names them to the shop, and the list of what they
bought and when, with their country, can single them out even without the id (a few distinctive
purchases are as good as a name). What recft keeps, and where each kind of data may go:

- the raw customer ids, the pseudonymisation key and the purchase histories stay inside the shop;
- the trained model stays there too: its folder holds every known customer's recent items
  (``histories.npz``, step 4), and its weights learned from their purchases;
- what may leave: aggregate figures and reports about groups of at least
  :data:`recft_utils.evaluation.segments.MIN_CUSTOMERS` customers (step 5), the one group-size rule.
"""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd

from recft_utils.errors import ParameterError

# What each column of the interaction schema says about a person, and what to do about it.
PERSONAL_DATA = {
    "user_id": ("identifies a customer to the shop", "pseudonymise with a key kept in the shop"),
    "timestamp": (
        "when a person shopped; with the items, a history that can single them out",
        "keep inside the shop; share only aggregates",
    ),
    "item_id": (
        "what a person bought (a purchase can reveal health, religion, family)",
        "keep inside the shop; share only aggregates",
    ),
    "country": (
        "where a person lives; a rare country narrows them down to a few people",
        "report only groups of enough customers",
    ),
    "order_id": ("links the items of one basket", "keep inside the shop"),
    "quantity": ("how much a person bought", "keep inside the shop"),
    "item_text": ("the product's title: not personal", "free to share"),
}


def personal_data_table(interactions: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``interactions``, what each says about a person, and how recft treats it."""
    rows = [
        {"column": column, "about a person": PERSONAL_DATA[column][0], "handling": PERSONAL_DATA[column][1]}
        for column in interactions.columns
        if column in PERSONAL_DATA
    ]
    return pd.DataFrame(rows).set_index("column")


def pseudonymise(ids: pd.Series, key: str | bytes, digits: int = 16) -> pd.Series:
    """Each id replaced by the first ``digits`` hex digits of its HMAC-SHA256 under ``key``.

    The same id always gets the same pseudonym (histories still join up), but without the key nobody
    can recover the id or link the pseudonyms to another dataset's ids. The key is the shop's secret:
    stored apart from the data, and never in a notebook. 16 hex digits (64 bits) make a collision
    unlikely below billions of customers.
    """
    key = key.encode() if isinstance(key, str) else key
    if len(key) < 16:
        raise ParameterError(
            f"A pseudonymisation key needs at least 16 bytes, got {len(key)}: use a random secret, "
            f"for example `python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    if not 8 <= digits <= 64:
        raise ParameterError(f"digits must be from 8 to 64, got {digits}.")
    unique = pd.unique(ids.astype(str))
    table = {value: hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:digits] for value in unique}
    return ids.astype(str).map(table).rename(ids.name)
