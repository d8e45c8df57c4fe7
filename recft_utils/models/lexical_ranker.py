"""A learned lexical ranker for new products: word-overlap features, weighted by a listwise linear model
trained on the shop's earlier launch windows.

The cold view asks which of the window's new products a customer buys. Four
word-overlap signals each answer part of it (no language model anywhere):

- the customer's bought titles against the product's title, by TF-IDF and by BM25
  (:class:`~recft_utils.models.baselines.TitleProfile`);
- the recent popularity of the product's nearest warm products by title, TF-IDF and
  BM25 (:class:`~recft_utils.models.baselines.TitleNeighbourPopularity`, as ``log1p``).

Instead of a hand-tuned blend of two of them, a linear model learns how much
each counts from the ``windows`` launch windows of ``window_days`` before the
task's start: in each, every customer who bought a product first sold in it is
one list, the candidates are all that window's new products, and the loss is
the softmax cross-entropy of what they bought (the cold view's question),
plus an L2 penalty (chosen on the validation window by
:func:`~recft_utils.models.fair_baselines.tune_lexical_ranker`). Every feature
is computed from the data before its window starts, so nothing leaks.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

from recft_utils.errors import ParameterError
from recft_utils.evaluation.protocol import build_task
from recft_utils.evaluation.split import TemporalSplit
from recft_utils.models.baselines import TitleNeighbourPopularity, TitleProfile
from recft_utils.models.recommender import Recommender

FEATURES = ("profile (TF-IDF)", "profile (BM25)", "neighbours' popularity (TF-IDF)", "neighbours' popularity (BM25)")
LEXICAL_RANKER = "learned lexical ranker (new products)"


def feature_models(titles: pd.Series, neighbours: int, days: int) -> list[Recommender]:
    """The unfitted models whose scores are the features, in :data:`FEATURES` order."""
    return [
        TitleProfile(titles, "tfidf"),
        TitleProfile(titles, "bm25"),
        TitleNeighbourPopularity(titles, neighbours, days, "tfidf"),
        TitleNeighbourPopularity(titles, neighbours, days, "bm25"),
    ]


def _feature(model: Recommender, rows: np.ndarray, first_item: int = 0) -> np.ndarray:
    scores = model.score(rows, first_item)
    return np.log1p(scores) if isinstance(model, TitleNeighbourPopularity) else scores


def launch_lists(task, titles: pd.Series, neighbours: int, days: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(customers, new products, features) and the (customers, new products) purchases of ``task``'s
    window, for the customers who bought a new product; None when nobody did."""
    truth = task.truth[:, task.n_warm :].toarray()
    buyers = np.flatnonzero(truth.any(axis=1))
    if not len(buyers):
        return None
    models = [m.fit(task) for m in feature_models(titles, neighbours, days)]
    rows = task.eval_rows[buyers]
    features = np.stack([_feature(m, rows, task.n_warm) for m in models], axis=2)
    return features, truth[buyers]


class _RecentLaunches:
    """The last few launch windows' lists, by the window's data: the validation and the test window's
    rankers share all but one of their launch windows, which a large catalogue takes minutes to build."""

    def __init__(self, size: int = 8):
        self.size, self._kept = size, {}

    @staticmethod
    def _fingerprint(window) -> str:
        rows = pd.concat([window.history, window.target])
        rows = rows[[c for c in ("user_id", "item_id", "order_id", "timestamp") if c in rows.columns]]
        digest = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
        digest.update(np.asarray(window.items).astype(str).astype("U").tobytes())
        return digest.hexdigest()

    def get(self, window, titles: pd.Series, settings: tuple, compute):
        key = (id(titles), settings, window.start, window.end, self._fingerprint(window))
        kept = self._kept.get(key)
        if kept is not None and kept[0] is titles:
            return kept[1]
        found = compute()
        self._kept[key] = (titles, found)
        while len(self._kept) > self.size:
            self._kept.pop(next(iter(self._kept)))  # the oldest
        return found


_LAUNCHES = _RecentLaunches()


def fit_listwise(lists: list[tuple[np.ndarray, np.ndarray]], l2: float) -> np.ndarray:
    """Weights minimising the mean over lists of the softmax cross-entropy of the bought candidates, + L2."""
    n = sum(len(y) for _, y in lists)
    dim = lists[0][0].shape[2]

    def loss(weights):
        total, gradient = l2 * weights @ weights, 2 * l2 * weights
        for features, bought in lists:
            scores = features @ weights
            share = bought / bought.sum(axis=1, keepdims=True)
            total += float((logsumexp(scores, axis=1) - (share * scores).sum(axis=1)).sum()) / n
            expected = np.einsum("uc,ucf->f", softmax(scores, axis=1) - share, features)
            gradient = gradient + expected / n
        return total, gradient

    return minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B").x


class LexicalRanker(Recommender):
    """:data:`FEATURES` weighted by a listwise linear model learned on earlier launch windows (see the module)."""

    name = LEXICAL_RANKER
    family = "lexical"
    scores_cold_items = True

    def __init__(
        self,
        titles: pd.Series,
        l2: float = 0.1,
        windows: int = 4,
        window_days: int = 30,
        neighbours: int = 10,
        days: int = 14,
    ):
        if l2 < 0 or windows < 1 or window_days < 1:
            raise ParameterError(
                f"LexicalRanker needs l2 >= 0 and at least one launch window of a day or more; "
                f"got l2 {l2}, {windows} windows of {window_days} days."
            )
        self.titles, self.l2, self.windows, self.window_days = titles, l2, windows, window_days
        self.neighbours, self.days = neighbours, days

    def training_lists(self, task) -> list[tuple[np.ndarray, np.ndarray]]:
        """The launch windows before ``task.start`` as lists (features scaled later), newest first.

        They do not depend on the L2, so a tuning grid on one task builds them once (kept on the task).
        """
        cache = task.__dict__.setdefault("_launch_lists", {})
        key = (id(self.titles), self.windows, self.window_days, self.neighbours, self.days)
        if key not in cache or cache[key][0] is not self.titles:
            cache[key] = (self.titles, self._launch_windows(task))
        return cache[key][1]

    def _launch_windows(self, task) -> list[tuple[np.ndarray, np.ndarray]]:
        lists = []
        for k in range(1, self.windows + 1):
            start = task.start - pd.Timedelta(days=k * self.window_days)
            end = start + pd.Timedelta(days=self.window_days)
            if start <= task.history["timestamp"].min():
                break
            window = build_task(task.history, TemporalSplit(start - pd.Timedelta(days=1), start, end), "test")
            found = _LAUNCHES.get(
                window,
                self.titles,
                (self.neighbours, self.days),
                lambda: launch_lists(window, self.titles, self.neighbours, self.days),
            )
            if found is not None:
                lists.append(found)
        return lists

    def fit(self, task):
        """Learn the weights on the launch windows before ``task.start``, then fit the features on ``task``.

        A shop too young for any launch window with a buyer of a new product gets equal weights (each
        feature counted once per unit): ``training["windows"]`` says 0.
        """
        super().fit(task)
        lists = self.training_lists(task)
        if lists:
            stacked = np.concatenate([f.reshape(-1, f.shape[2]) for f, _ in lists])
            self.scale = np.where(stacked.std(axis=0) > 0, stacked.std(axis=0), 1.0)  # comparable weights, fair L2
            self.weights = fit_listwise([(f / self.scale, y) for f, y in lists], self.l2)
        else:
            self.scale, self.weights = np.ones(len(FEATURES)), np.ones(len(FEATURES))
        self.models = [m.fit(task) for m in feature_models(self.titles, self.neighbours, self.days)]
        self.training = {"windows": len(lists), "lists": int(sum(len(y) for _, y in lists))}
        return self

    def feature_weights(self) -> pd.Series:
        """The learned weight of each feature (per standard deviation of that feature)."""
        return pd.Series(self.weights, index=list(FEATURES), name="weight")

    def score(self, user_rows):
        total = np.zeros((len(user_rows), len(self.task.items)))
        for model, weight, scale in zip(self.models, self.weights, self.scale):
            total += weight / scale * _feature(model, user_rows)
        return total
