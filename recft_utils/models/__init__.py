"""Recommenders. Classical baselines live in :mod:`recft_utils.models.baselines`."""

from recft_utils.models.baselines import (
    EASE,
    ItemKNN,
    Popularity,
    Random,
    Recommender,
    Repeats,
    classical_baselines,
)

__all__ = ["EASE", "ItemKNN", "Popularity", "Random", "Recommender", "Repeats", "classical_baselines"]
