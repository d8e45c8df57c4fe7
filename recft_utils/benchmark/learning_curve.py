"""``python -m recft_utils.benchmark learning-curve``: when does the language model pay off?

Theory says a pretrained encoder matters most where the shop's own data
says least: with few customers to learn from, and for new products whose
titles share no word with anything sold before (word overlap then has
nothing to go on). This benchmark measures both on the rolling origin's
windows. For each window and each share of the customers (a seeded sample:
a smaller shop, its catalogue what those customers bought), every choice is
remade on that sample's validation window, and four models are trained with
the profile's seeds:

- the language-model two-tower (frozen encoder) and, from it, the same model
  with the encoder's top layer fine-tuned (steps chosen on validation, 0 included);
- its lexical twin (TF-IDF title vectors at the encoder's width);
- the ID-only two-tower (same prior, no text);
- EASE + recent popularity (the fair classical bar).

Besides the protocol's views, ``cold, no shared word`` ranks only the new
products whose titles share no word with any earlier product's title.
Both cold views keep their NDCG split by product, so that their intervals
can resample products as well as customers.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from tqdm import tqdm

from recft_utils.benchmark.rolling import TOP_K, TOP_K_SETTINGS, top_k_on_window
from recft_utils.benchmark.window_comparison import IDS_ONLY, LEXICAL_TEXT, TEXT, VARIANTS, choose_variants
from recft_utils.config import get_profile
from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task, evaluate
from recft_utils.evaluation.rolling_origin import item_gain_scores, per_user_scores, rolling_origins
from recft_utils.models.fair_baselines import EASE_POPULARITY, tune_classical_bar
from recft_utils.models.recommender import Recommender
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender
from recft_utils.text.lexical import lexical_item_vectors
from recft_utils.text.tfidf import term_counts

FRACTIONS = (0.1, 0.25, 0.5, 1.0)
UNSHARED = "cold, no shared word"
CURVE_MODELS = (TEXT, LEXICAL_TEXT, IDS_ONLY, EASE_POPULARITY)
# each comparison the curve reports: (model, baseline)
CURVE_PAIRS = ((TEXT, LEXICAL_TEXT), (TEXT, IDS_ONLY), (TEXT, EASE_POPULARITY), (TOP_K, TEXT))
# The rolling benchmark's fine-tuning with its lower layers computed once per process and shared by
# every fit of the curve (up to 48: 12 windows x sizes, each a choice on validation and 3 seeds): about
# half of the run time went to recomputing them. Equal up to float rounding (see FineTuneConfig).
CURVE_TOP_K = replace(TOP_K_SETTINGS, fast_catalogue=True)


def customer_sample(interactions: pd.DataFrame, fraction: float, seed: int = 0) -> pd.DataFrame:
    """Every interaction of a seeded ``fraction`` of the customers (at least one)."""
    users = np.sort(interactions["user_id"].unique())
    size = max(1, int(round(fraction * len(users))))
    keep = np.random.default_rng(seed).choice(users, size=size, replace=False)
    return interactions[interactions["user_id"].isin(keep)]


def unshared_cold_items(task, titles: pd.Series) -> np.ndarray:
    """Positions (within the cold items) of the new products whose titles share no word with a warm title."""
    counts = term_counts(titles.reindex(task.items).fillna("").to_numpy()) > 0
    warm_words = np.asarray(counts[: task.n_warm].sum(axis=0)).ravel() > 0
    shared = np.asarray(counts[task.n_warm :] @ warm_words).ravel() > 0
    return np.flatnonzero(~shared)


class ColdSubset(Recommender):
    """A fitted model's scores on the warm items and a subset of the cold ones (for a restricted cold view)."""

    scores_cold_items = True

    def __init__(self, model, task, columns: np.ndarray):
        self.model, self.columns, self.name, self.family = model, columns, model.name, model.family
        self.task = task

    def score(self, user_rows):
        return self.model.score(user_rows)[:, self.columns]


def unshared_view(titles: pd.Series):
    """``{UNSHARED: function(model, test) -> per-user frame}``: the cold view on unshared-title products only."""

    def measure(model, task):
        keep = unshared_cold_items(task, titles)
        if not len(keep) or not getattr(model, "scores_cold_items", False):
            return pd.DataFrame(columns=["user_id", "ndcg"])
        columns = np.concatenate([np.arange(task.n_warm), task.n_warm + keep])
        subset = replace(task, items=task.items[columns], truth=task.truth[:, columns])
        return evaluate(ColdSubset(model, subset, columns), subset, views=("cold",))["cold"]

    return {UNSHARED: measure}


def view_gains(per_user: dict, model: str, family: str, seed: int, window: int) -> pd.DataFrame:
    """:func:`~recft_utils.evaluation.rolling_origin.item_gain_scores` of every view whose NDCG is split
    by product: the cold view and :data:`UNSHARED` (its own ranking of the unshared products, not the
    cold view's gains filtered: with fewer candidates, each product ranks higher)."""
    parts = [
        item_gain_scores({"cold": frame}, model, family, seed, window).assign(view=view)
        for view, frame in per_user.items()
        if "item_gains" in frame.attrs
    ]
    parts = [part for part in parts if len(part)]
    return pd.concat(parts, ignore_index=True) if parts else item_gain_scores({}, model, family, seed, window)


def curve_on_window(
    data: pd.DataFrame, split, item_vectors, words, titles, seeds, window: int, epochs: int, selection_seed: int
) -> tuple[list[pd.DataFrame], list[pd.DataFrame], dict]:
    """Every model of the curve on one window of one customer sample: per-customer scores, the cold
    views' per-product gains (:func:`view_gains`) and the choices."""
    extra, gains = unshared_view(titles), []

    def keep_gains(per_user, name, family, seed):
        gains.append(view_gains(per_user, name, family, seed, window))

    scores, choice = top_k_on_window(
        data,
        split,
        item_vectors,
        titles,
        seeds,
        window,
        CURVE_TOP_K,
        epochs,
        selection_seed=selection_seed,
        extra_views=extra,
        on_evaluated=keep_gains,
    )
    valid, test = build_task(data, split, "valid"), build_task(data, split, "test")

    def add(model, name, family, seed):
        per_user = evaluate(model, test)
        per_user.update({view: measure(model, test) for view, measure in extra.items()})
        scores.append(per_user_scores(per_user, name, family, seed, window))
        keep_gains(per_user, name, family, seed)

    fair = tune_classical_bar(valid)
    add(fair.fit(test), EASE_POPULARITY, "classical", 0)
    base = TwoTowerConfig(epochs=epochs)
    chosen = {
        **choose_variants(item_vectors, valid, base, selection_seed, {IDS_ONLY: VARIANTS[IDS_ONLY]}, ablation=False),
        **choose_variants(words, valid, base, selection_seed, {LEXICAL_TEXT: {}}, family="lexical", ablation=False),
    }
    chosen = {name: value for name, value in chosen.items() if name != "best text"}
    choice.update(
        {"ease_popularity": fair.settings, "epochs": {name: chosen[name][1] for name in (IDS_ONLY, LEXICAL_TEXT)}}
    )
    for seed in seeds:
        for name, vectors, family in ((IDS_ONLY, item_vectors, None), (LEXICAL_TEXT, words, "lexical")):
            config, epochs_chosen = chosen[name][0], chosen[name][1]
            model = TwoTowerRecommender(vectors, config, seed=seed, name=name, family=family).fit(test, epochs_chosen)
            add(model, name, model.family, seed)
    return scores, gains, choice


def learning_curve(
    interactions: pd.DataFrame,
    item_vectors: pd.DataFrame,
    titles: pd.Series,
    profile: str = "workshop",
    windows: int = 3,
    fractions=FRACTIONS,
    selection_seed: int = 42,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-customer scores of every model at every customer share and window (a ``fraction`` column),
    the cold views' per-product gains (the same columns) and the choices made on each validation window."""
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad:
        raise ParameterError(f"Shares of customers lie in (0, 1]; got {bad}. Use e.g. --fractions 0.1 0.25 0.5 1.")
    plan = get_profile(profile).rolling_benchmark
    words = lexical_item_vectors(titles, dim=item_vectors.shape[1], seed=selection_seed)
    scores, gains, choices = [], [], {}
    steps = [(origin, fraction) for origin in rolling_origins(interactions, windows) for fraction in fractions]
    for origin, fraction in tqdm(steps, desc="windows x sizes", disable=not progress):
        data = customer_sample(origin.interactions(interactions), fraction, selection_seed)
        window_scores, window_gains, choice = curve_on_window(
            data,
            origin.split,
            item_vectors,
            words,
            titles,
            plan["seeds"],
            origin.number,
            plan["two_tower_epochs"],
            selection_seed,
        )
        scores += [frame.assign(fraction=fraction) for frame in window_scores]
        gains += [frame.assign(fraction=fraction) for frame in window_gains if len(frame)]
        choices[f"{origin.number}@{fraction:g}"] = {**choice, "customers": int(data["user_id"].nunique())}
    gains = pd.concat(gains, ignore_index=True) if gains else item_gain_scores({}, "", "", 0, 0).assign(fraction=0.0)
    return pd.concat(scores, ignore_index=True), gains, choices
