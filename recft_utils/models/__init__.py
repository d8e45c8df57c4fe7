"""Recommenders. Classical baselines live in :mod:`recft_utils.models.baselines` (EASE and ItemKNN in
:mod:`recft_utils.models.item_to_item`); what step 3 trains for
each profile, and the code path that trains it, in :mod:`recft_utils.experiments.training_plan`."""

from recft_utils.models.baselines import Popularity, Random, Repeats, classical_baselines
from recft_utils.models.item_to_item import EASE, ItemKNN
from recft_utils.models.recommender import Recommender

__all__ = ["EASE", "ItemKNN", "Popularity", "Random", "Recommender", "Repeats", "classical_baselines"]
