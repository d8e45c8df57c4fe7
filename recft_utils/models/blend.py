"""A weighted blend of two recommenders' standardised scores, its weight chosen on the validation window.

Scores of different models live on different scales (softmax logits, EASE's
linear scores), so each user's row of scores is standardised over the items
first: ``w * z(a) + (1 - w) * z(b)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.models.recommender import Recommender

WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row to mean 0 and standard deviation 1 (a constant row becomes zeros).

    The arithmetic of ``(x - x.mean()) / x.std()``, bit for bit, with the centred scores computed once.
    """
    scores = np.asarray(scores, dtype=np.float64)
    centred = scores - scores.mean(axis=1, keepdims=True)
    spread = np.sqrt(np.square(centred).sum(axis=1, keepdims=True) / scores.shape[1])
    centred /= np.where(spread > 0, spread, 1.0)
    return centred


class PartScores:
    """Each blended model's standardised scores for the customer rows asked last.

    Blends that share one (the weights of a grid, evaluated together by
    :func:`~recft_utils.evaluation.protocol.evaluate_many`) score each part once per chunk of
    customers instead of once per weight. It keeps one chunk per part model.
    """

    def __init__(self):
        self._last = {}

    def standardised(self, model: Recommender, user_rows: np.ndarray) -> np.ndarray:
        kept = self._last.get(id(model))
        if kept is not None and kept[0] is model and np.array_equal(kept[1], user_rows):
            return kept[2]
        scores = standardise(model.score(user_rows))
        self._last[id(model)] = (model, np.array(user_rows), scores)
        return scores


def blend_family(*families: str) -> str:
    """The family of a blend of models of ``families``.

    Parts of one family keep it; without a language model a blend stays a fair
    baseline (``lexical`` when a part reads words, else ``classical``); a
    language model mixed with anything else is a ``blend``.
    """
    kinds = set(families)
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"classical", "lexical"}:
        return "lexical"
    return "blend"


class ScoreBlend(Recommender):
    """``weight`` × the first model's standardised scores + (1 − ``weight``) × the second's.

    Both models must already be fitted on the same task; ``fit`` only checks that.
    It scores cold items when a model that does has a weight above 0 (an ID model adds the same
    constant to every cold item of a row).
    """

    def __init__(
        self,
        first: Recommender,
        second: Recommender,
        weight: float,
        name: str | None = None,
        parts: PartScores | None = None,
    ):
        if not 0.0 <= weight <= 1.0:
            raise ParameterError(f"A blend weight lies between 0 and 1, got {weight}.")
        self.first, self.second, self.weight = first, second, weight
        # a blend ranks new products only through a part that can and has a weight above 0: with
        # weight 0 on the text model, an ID model alone would give every cold item the same score
        self.scores_cold_items = bool(
            (getattr(first, "scores_cold_items", False) and weight > 0)
            or (getattr(second, "scores_cold_items", False) and weight < 1)
        )
        self.family = blend_family(getattr(first, "family", "classical"), getattr(second, "family", "classical"))
        self.name = name or f"blend: {weight:g} × {first.name} + {1 - weight:g} × {second.name}"
        self.parts = parts  # shared with the other blends of a grid, or None

    def fit(self, task):
        if self.first.task is not task or self.second.task is not task:
            raise ParameterError("Fit both blended models on the same task before blending them.")
        return super().fit(task)

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        if self.parts is None:
            first, second = standardise(self.first.score(user_rows)), standardise(self.second.score(user_rows))
        else:
            first, second = (self.parts.standardised(model, user_rows) for model in (self.first, self.second))
        return self.weight * first + (1 - self.weight) * second


def weight_grid(first: Recommender, second: Recommender, task, weights=WEIGHTS) -> list[ScoreBlend]:
    """The blends of ``first`` and ``second`` (fitted on ``task``) at each weight, sharing their parts'
    scores: evaluate them together with :func:`~recft_utils.evaluation.protocol.evaluate_many`."""
    parts = PartScores()
    return [ScoreBlend(first, second, weight, parts=parts).fit(task) for weight in weights]


def choose_weight(
    first: Recommender, second: Recommender, valid_task, weights=WEIGHTS, view: str = "discovery", k: int = 10
) -> tuple[float, pd.DataFrame]:
    """The weight with the best mean NDCG@k of ``view`` on ``valid_task`` (models fitted on it), and every weight's.

    Weight 1 is the first model alone, so the chosen blend is never worse
    than it on the validation window.
    """
    from recft_utils.evaluation.protocol import evaluate_many

    blends = weight_grid(first, second, valid_task, weights)
    rows = [
        {"weight": weight, f"valid_ndcg@{k}": float(per_user[view]["ndcg"].mean())}
        for weight, per_user in zip(weights, evaluate_many(blends, valid_task, views=(view,), k=k))
    ]
    table = pd.DataFrame(rows)
    return float(table.loc[table[f"valid_ndcg@{k}"].idxmax(), "weight"]), table
