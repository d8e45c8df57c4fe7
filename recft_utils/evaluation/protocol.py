"""The evaluation protocol: who is evaluated, on which items, in which view.

A :class:`EvalTask` freezes one window of the temporal split: the history a
model may learn from (strictly before the window), the customers evaluated
(bought in the window *and* before it) and what they bought in the window.
The catalogue is every item sold before the window end; items first sold
inside the window are *cold*.

Three views (see the guide):

- ``all``: every purchase in the window counts, repeats included;
- ``discovery``: items the customer bought before are removed from both the
  ranking and the ground truth (customers left with nothing are dropped);
- ``cold``: only cold items are ranked, for customers who bought one.
  Models that only know item IDs cannot take part in it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recft_utils.errors import ParameterError
from recft_utils.evaluation import metrics
from recft_utils.evaluation.split import TemporalSplit

VIEWS = ("all", "discovery", "cold")
# What a model's result is evidence for: ``classical`` (IDs and counts, no text), ``lexical`` (product
# text as words: TF-IDF, BM25, no language model; blends with classical models included),
# ``text-frozen`` (the pretrained encoder's weights unchanged), ``text-fine-tuned`` (its weights
# changed) or ``blend`` (a language model blended with another model). Verdicts compare a language
# model with its lexical twin and with the best classical and lexical record of each view.
FAMILIES = ("classical", "lexical", "text-frozen", "text-fine-tuned", "blend")
LANGUAGE_MODEL_FAMILIES = ("text-frozen", "text-fine-tuned", "blend")


@dataclass
class EvalTask:
    window: str
    start: pd.Timestamp
    end: pd.Timestamp
    history: pd.DataFrame  # interactions before ``start``: all a model may see
    target: pd.DataFrame  # interactions inside the window
    items: np.ndarray  # catalogue: warm items (sorted) then cold items (sorted)
    n_warm: int
    users: np.ndarray  # customers with history, rows of ``matrix``
    matrix: sp.csr_matrix  # users x items: number of orders containing the item
    eval_rows: np.ndarray  # rows of ``users`` that are evaluated
    truth: sp.csr_matrix  # eval users x items: bought in the window

    def summary(self) -> dict:
        return {
            "window": self.window,
            "start": str(self.start.date()),
            "history_interactions": len(self.history),
            "window_interactions": len(self.target),
            "catalogue_items": len(self.items),
            "cold_items": len(self.items) - self.n_warm,
            "customers_with_history": len(self.users),
            "evaluated_customers": len(self.eval_rows),
        }


def sample_evaluated(task: EvalTask, n: int, seed: int = 0) -> EvalTask:
    """``task`` with at most ``n`` of its evaluated customers (a seeded sample; history and catalogue unchanged).

    For measuring cost at scale with a fixed evaluation effort, never for reported quality.
    """
    if len(task.eval_rows) <= n:
        return task
    keep = np.sort(np.random.default_rng(seed).choice(len(task.eval_rows), size=n, replace=False))
    return replace(task, eval_rows=task.eval_rows[keep], truth=task.truth[keep])


def _index(values: np.ndarray, universe: np.ndarray) -> np.ndarray:
    return np.searchsorted(universe, values)


def build_task(interactions: pd.DataFrame, split: TemporalSplit, window: str = "test") -> EvalTask:
    """Freeze one window of the split into an :class:`EvalTask`."""
    start, end = split.window(window)
    ts = interactions["timestamp"]
    history = interactions[ts < start]
    target = interactions[(ts >= start) & (ts < end)]
    warm = np.sort(history["item_id"].unique())
    sold = pd.Series(target["item_id"].unique())
    cold = np.sort(sold[~sold.isin(warm)].to_numpy())  # a hash lookup: np.setdiff1d sorts strings, seconds at 20,000
    items = np.concatenate([warm, cold])
    order = np.argsort(items)
    users = np.sort(history["user_id"].unique())

    pairs = history.groupby(["user_id", "item_id"])["order_id"].nunique()
    rows = _index(pairs.index.get_level_values(0).to_numpy(), users)
    cols = order[_index(pairs.index.get_level_values(1).to_numpy(), items[order])]
    matrix = sp.csr_matrix((pairs.to_numpy().astype(np.float32), (rows, cols)), shape=(len(users), len(items)))

    bought = target[target["user_id"].isin(users)][["user_id", "item_id"]].drop_duplicates()
    eval_users = np.sort(bought["user_id"].unique())
    eval_rows = _index(eval_users, users)
    t_rows = _index(bought["user_id"].to_numpy(), eval_users)
    t_cols = order[_index(bought["item_id"].to_numpy(), items[order])]
    truth = sp.csr_matrix((np.ones(len(bought), dtype=bool), (t_rows, t_cols)), shape=(len(eval_users), len(items)))
    return EvalTask(window, start, end, history, target, items, len(warm), users, matrix, eval_rows, truth)


def _view(task: EvalTask, view: str, scores: np.ndarray, truth: np.ndarray, rows: np.ndarray, seen=None):
    """Restrict scores/truth of some evaluated users to one view; drop empty users.

    ``seen``: those users' earlier purchases as a boolean matrix, when the caller has it already. The
    discovery view writes ``-inf`` into ``scores`` in place (a chunk's scores are hundreds of MB on a
    large catalogue), so evaluate it after the views that need the scores as they were.
    """
    if view == "discovery":
        seen = task.matrix[task.eval_rows[rows]].toarray() > 0 if seen is None else seen
        np.putmask(scores, seen, -np.inf)
        truth = truth & ~seen
    elif view == "cold":
        scores = scores[:, task.n_warm :]
        truth = truth[:, task.n_warm :]
    keep = truth.any(axis=1)
    if keep.all():
        return scores, truth, rows
    return scores[keep], truth[keep], rows[keep]


def chunk_rows(n_items: int, cells: int = 8_000_000, most: int = 2048) -> int:
    """Customers scored at once: ``most``, or fewer for a large catalogue, so that a chunk's dense
    (customers × catalogue) float64 scores stay near ``cells`` values (64 MB). Smaller chunks are
    faster, not only lighter: a fresh 400 MB array per model and chunk cost as much in page faults
    as the ranking itself (`benchmark` on a 70,000-product shop: 2x); the built-in shop's 2,048
    customers still fit in one chunk, so its random baseline draws what it always drew."""
    return int(min(most, max(64, cells // max(n_items, 1))))


PER_USER_COLUMNS = ["user_id", "ndcg", "recall", "hit_rate", "rr"]


class _ViewMetrics:
    """One model's per-user metrics by view, gathered chunk by chunk (see :func:`evaluate_many`)."""

    def __init__(self, model, task: EvalTask, views, k: int):
        self.model, self.task, self.k = model, task, k
        self.cold_ok = getattr(model, "scores_cold_items", False)
        self.views = [v for v in views if v != "cold" or self.cold_ok]
        self.parts = {v: [] for v in self.views}
        self.shown = {v: set() for v in self.views}
        self.gains = []

    def add(self, rows: np.ndarray, truth: np.ndarray, seen: np.ndarray | None) -> None:
        task = self.task
        scores = np.asarray(self.model.score(task.eval_rows[rows]), dtype=np.float64)
        if not self.cold_ok:
            scores[:, task.n_warm :] = -np.inf
        for view in sorted(self.views, key=lambda v: v == "discovery"):  # it changes scores in place: last
            s, t, r = _view(task, view, scores, truth, rows, seen)
            if len(r) == 0:
                continue
            ranked = metrics.ranking_metrics(s, t, self.k)
            self.shown[view].update(np.unique(ranked["top"][ranked["shown"]]))
            self.parts[view].append(
                pd.DataFrame(
                    {"user_id": task.users[task.eval_rows[r]], **{name: ranked[name] for name in PER_USER_COLUMNS[1:]}}
                )
            )
            if view == "cold":
                users, columns, gain = metrics.ndcg_item_gains(s, t, self.k, ranked=ranked["top"])
                self.gains.append(
                    pd.DataFrame(
                        {
                            "user_id": task.users[task.eval_rows[r[users]]],
                            "item_id": task.items[task.n_warm + columns],
                            "gain": gain,
                        }
                    )
                )

    def result(self) -> dict:
        result = {}
        for view in self.views:
            parts = self.parts[view]
            frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PER_USER_COLUMNS)
            n_candidates = len(self.task.items) - self.task.n_warm if view == "cold" else len(self.task.items)
            frame.attrs["coverage"] = metrics.coverage(self.shown[view], n_candidates)
            if view == "cold":
                frame.attrs["item_gains"] = (
                    pd.concat(self.gains, ignore_index=True)
                    if self.gains
                    else pd.DataFrame(columns=["user_id", "item_id", "gain"])
                )
            result[view] = frame
        return result


def _rows_needed(task: EvalTask, views, all_rows: bool = False) -> np.ndarray:
    """The evaluated customers (positions in ``task.eval_rows``) some view can keep: with the cold view
    alone, only those who bought a new product (the others would be scored, then dropped). ``all_rows``:
    every one, for a model whose scores depend on the chunk (``draws_per_chunk``, e.g. random)."""
    if set(views) == {"cold"} and not all_rows:
        return np.flatnonzero(task.truth[:, task.n_warm :].getnnz(axis=1) > 0)
    return np.arange(len(task.eval_rows))


def customer_sample(task: EvalTask, cells: int, seed: int = 0) -> EvalTask:
    """``task`` with a seeded sample of its evaluated customers, so that customers × catalogue stay
    within ``cells``; ``task`` itself when they do already. For judgements repeated many times (early
    stopping, every epoch) on a catalogue so large that the whole window would cost more than the training."""
    most = max(1, cells // max(len(task.items), 1))
    if len(task.eval_rows) <= most:
        return task
    keep = np.sort(np.random.default_rng(seed).choice(len(task.eval_rows), most, replace=False))
    return replace(task, eval_rows=task.eval_rows[keep], truth=task.truth[keep])


def evaluate(model, task: EvalTask, views=VIEWS, k: int = 10, chunk: int | None = None) -> dict:
    """Per-user metrics of a fitted model, by view.

    ``model.score(user_rows)`` returns scores over ``task.items`` for those rows
    of ``task.users``. Models whose ``scores_cold_items`` is false get ``-inf`` on
    cold items and skip the ``cold`` view.
    Returns ``{view: DataFrame(user_id, ndcg, recall, hit_rate, rr)}``; each
    frame's ``attrs["coverage"]`` is the view's coverage, and the cold view's
    ``attrs["item_gains"]`` splits its NDCG by product (user_id, item_id,
    gain: see :func:`~recft_utils.evaluation.metrics.ndcg_item_gains`), for
    intervals that resample products too.
    """
    return evaluate_many([model], task, views, k, chunk)[0]


def evaluate_many(models, task: EvalTask, views=VIEWS, k: int = 10, chunk: int | None = None) -> list[dict]:
    """:func:`evaluate` for several models, one chunk of customers at a time for all of them.

    The same numbers as evaluating each model alone; chunk-major order lets models that share parts
    (the blends of a weight grid, :class:`~recft_utils.models.blend.ScoreBlend` with a shared
    ``PartScores``) score each part once per chunk, and reads each chunk's purchases once.
    """
    unknown = set(views) - set(VIEWS)
    if unknown:
        raise ParameterError(f"Unknown view(s) {sorted(unknown)}; use some of {VIEWS}.")
    gathered = [_ViewMetrics(model, task, views, k) for model in models]
    chunk = chunk or chunk_rows(len(task.items))
    needed = _rows_needed(task, views, all_rows=any(getattr(m, "draws_per_chunk", False) for m in models))
    for begin in range(0, len(needed), chunk):
        rows = needed[begin : begin + chunk]
        truth = task.truth[rows].toarray()
        seen = task.matrix[task.eval_rows[rows]].toarray() > 0 if "discovery" in views else None
        for one in gathered:
            one.add(rows, truth, seen)
    return [one.result() for one in gathered]


def summarise(
    per_user: dict, model_name: str, k: int = 10, bootstrap: int = 1000, seed: int = 0, family: str = "classical"
) -> list[dict]:
    """One record per view: means, a bootstrap interval for NDCG, coverage, and the model's family."""
    if family not in FAMILIES:
        raise ParameterError(f"Unknown model family {family!r}; use one of {', '.join(FAMILIES)}.")
    records = []
    for view, frame in per_user.items():
        low, high = metrics.bootstrap_interval(frame["ndcg"].to_numpy(), bootstrap, seed=seed)
        records.append(
            {
                "model": model_name,
                "family": family,
                "view": view,
                f"ndcg@{k}": float(frame["ndcg"].mean()) if len(frame) else float("nan"),
                f"ndcg@{k}_low": low,
                f"ndcg@{k}_high": high,
                f"recall@{k}": float(frame["recall"].mean()) if len(frame) else float("nan"),
                f"hit_rate@{k}": float(frame["hit_rate"].mean()) if len(frame) else float("nan"),
                "mrr": float(frame["rr"].mean()) if len(frame) else float("nan"),
                f"coverage@{k}": float(frame.attrs["coverage"]),
                "n_users": int(len(frame)),
            }
        )
    return records
