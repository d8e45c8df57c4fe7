"""Step 2's tables: interactions labelled by split part, and the item table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.evaluation.split import TemporalSplit
from recft_utils.text.augmentation import normalise_title


def check_protocol(protocol: dict, test_days: int, valid_days: int, dataset: str,
                   data_end: str | None = None) -> TemporalSplit:
    """The split step 1 chose; refuse parameters that contradict it (``data_end``: checked when given)."""
    checks = [("test_days", test_days), ("valid_days", valid_days), ("dataset", dataset)]
    if data_end is not None:
        checks.append(("data_end", data_end))
    for name, value in checks:
        if protocol.get(name, "" if name == "data_end" else None) != value:
            raise ParameterError(
                f"Step 01 of this run used {name}={protocol.get(name)!r} but this notebook got "
                f"{value!r}. Run both with the same value (or use a new run_dir)."
            )
    return TemporalSplit.from_dict(protocol)


def item_table(interactions: pd.DataFrame, split: TemporalSplit, normalise) -> pd.DataFrame:
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
    return pd.Series([normalise_title(t) for t in first["item_text"]],
                     index=pd.Index(first["item_id"].to_numpy(), name="item_id"), name="title")
