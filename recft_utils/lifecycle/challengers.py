"""One champion/challenger round, as ``recft retrain`` and step 6's monthly simulation both run it.

Two challengers train on the validation task's history: one from scratch, one warm-started from the
champion (when there is one). The champion is carried over to the same task without training, and
all of them rank the validation window; :func:`~recft_utils.lifecycle.promotion.choose_challenger`
decides, customer by customer (Holm-corrected tests, the better passing challenger promoted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from recft_utils.lifecycle.promotion import choose_challenger, discovery_scores
from recft_utils.models.two_tower_recommender import TwoTowerRecommender


@dataclass
class Challenger:
    """A trained challenger: the model, its training epochs and seconds."""

    model: TwoTowerRecommender
    epochs: int
    seconds: float


def train_challengers(
    item_vectors, config, valid, champion: TwoTowerRecommender | None, epochs: int, warm_epochs: int, seed: int = 0
) -> dict[str, Challenger]:
    """``scratch`` (``epochs`` from a random start) and, with a ``champion``, ``warm start`` (``warm_epochs``
    from the champion's weights), both on ``valid``'s history."""
    plans = {"scratch": (None, epochs)}
    if champion is not None:
        plans["warm start"] = (champion, warm_epochs)
    trained = {}
    for name, (source, n) in plans.items():
        started = time.perf_counter()
        model = TwoTowerRecommender(item_vectors, config, seed=seed)
        model = model.fit(valid, n) if source is None else model.start_from(valid, source, n)
        trained[name] = Challenger(model, n, time.perf_counter() - started)
    return trained


def judge_challengers(
    champion: TwoTowerRecommender,
    challengers: dict[str, Challenger],
    valid,
    alpha: float = 0.05,
    served=lambda model: model,
) -> dict:
    """The round's decision (see :func:`~recft_utils.lifecycle.promotion.choose_challenger`): ``champion``
    carried over to ``valid`` without training, against every challenger, each as ``served`` makes it
    (e.g. inside the blend that step 4 serves)."""
    carried = champion.like().start_from(valid, champion)
    return choose_challenger(
        discovery_scores(served(carried), valid),
        {name: discovery_scores(served(c.model), valid) for name, c in challengers.items()},
        alpha=alpha,
    )
