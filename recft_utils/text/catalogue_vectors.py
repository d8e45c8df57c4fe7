"""The catalogue as sentence embeddings: every item's text, and step 2's augmented texts, through an encoder."""

from __future__ import annotations

import pandas as pd

from recft_utils.datasets.preparation import catalogue_titles


def encode_catalogue(
    interactions: pd.DataFrame, encoder, batch_size: int = 128, progress: bool = False
) -> pd.DataFrame:
    """Sentence embeddings of every item's normalised title (as first listed: see catalogue_titles), by item id."""
    titles = catalogue_titles(interactions)
    vectors = encoder.encode(list(titles), batch_size=batch_size, progress=progress)
    return pd.DataFrame(vectors, index=titles.index)


def encode_augmented_titles(augmented: pd.DataFrame, encoder, batch_size: int = 128) -> pd.DataFrame:
    """Sentence embeddings of step 2's augmented titles (column ``augmented``), indexed by item id."""
    vectors = encoder.encode(list(augmented["augmented"]), batch_size=batch_size)
    return pd.DataFrame(vectors, index=pd.Index(augmented["item_id"].to_numpy(), name="item_id"))
