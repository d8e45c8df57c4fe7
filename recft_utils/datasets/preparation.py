"""Step 2's tables: the product text's canonical form, and the item table."""

from __future__ import annotations

import math
import unicodedata

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.evaluation.split import TemporalSplit


def normalise_title(text: str) -> str:
    """The canonical form of a product's text that every model reads and augmentation works on.

    Unicode NFKC (full-width and compatibility characters become their plain
    form), lower case (the model's vocabulary is uncased; the data's titles
    are upper case, ``"WHITE HANGING HEART T-LIGHT HOLDER"``), runs of
    whitespace collapsed to one space, and stripped. Punctuation is kept.
    """
    if not isinstance(text, str):
        raise ParameterError(f"A product title must be a string, got {text!r}.")
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def item_table(interactions: pd.DataFrame, split: TemporalSplit, normalise=normalise_title) -> pd.DataFrame:
    """One row per item: its text, normalised title, first sale, buyers, cold flag.

    ``cold_in_test`` marks items first sold in the test window: no model may
    learn their ID, only their text.
    """
    grouped = interactions.groupby("item_id")
    # the title as first listed: what a model of any later window may know (see catalogue_titles)
    first = interactions.sort_values("timestamp", kind="stable").drop_duplicates("item_id", keep="first")
    items = first.set_index("item_id")[["item_text"]].sort_index()
    items["title"] = items["item_text"].map(normalise)
    items["first_sold"] = grouped["timestamp"].min()
    items["customers"] = grouped["user_id"].nunique()
    items["cold_in_test"] = items["first_sold"] >= split.test_start
    return items.reset_index()


def choose_sequence_length(lengths: np.ndarray, quantile: float = 0.99, multiple: int = 8) -> int:
    """Shortest multiple of ``multiple`` that fits ``quantile`` of the titles."""
    if len(lengths) == 0:
        raise ParameterError("No titles to measure: the item table is empty.")
    return int(math.ceil(np.quantile(lengths, quantile) / multiple) * multiple)


def catalogue_titles(interactions: pd.DataFrame) -> pd.Series:
    """Every item's title as first listed, normalised (step 2's rules), indexed by item id.

    The first title is known from the item's first sale on, so no window's
    model reads a title from that window or later (a later rename would leak
    the future into every earlier window).
    """
    first = interactions.sort_values("timestamp", kind="stable").drop_duplicates("item_id", keep="first")
    first = first.sort_values("item_id")
    return pd.Series(
        [normalise_title(t) for t in first["item_text"]],
        index=pd.Index(first["item_id"].to_numpy(), name="item_id"),
        name="title",
    )
