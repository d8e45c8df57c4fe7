"""Recommenders. Classical baselines live in :mod:`recft_utils.models.baselines`; what step 3 trains for
each profile, and the code path that trains it, in :mod:`recft_utils.models.training_plan`."""

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
