"""``python -m recft_utils.benchmark rolling``: step 3's comparison on successive test windows, pooled.

Each window (see :mod:`recft_utils.evaluation.rolling_origin`) is a full
run of :func:`~recft_utils.benchmark.window_comparison.compare_on_window`: fair
baselines and two-tower variants tuned on that window's validation window,
then every model evaluated on its test window with the profile's seeds. The
verdict pools the windows' customers and compares each text model with the
best classical and the best lexical model of each view, and with its own
lexical twin (the same model on word overlap), with per-customer paired
intervals, and in the cold view intervals that resample products too.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from tqdm import tqdm

from recft_utils.benchmark.window_comparison import (
    ADAPTED,
    BLEND,
    ENCODER_MEAN,
    ENCODER_NEIGHBOURS,
    ENCODER_PROFILE_BLEND,
    NO_PRIOR,
    TEXT,
    TEXT_IDS,
    TWINS,
    compare_on_window,
)
from recft_utils.config import get_profile
from recft_utils.evaluation.rolling_origin import paired_comparison, pooled_verdict, rolling_origins, window_table
from recft_utils.models.encoder_adaptation import AdaptationConfig
from recft_utils.models.fine_tuning import FineTuneConfig
from recft_utils.models.two_tower import TwoTowerConfig

# settings of the encoder adaptation, from validation runs of the latest window (see the README)
ADAPTATION = AdaptationConfig(learning_rate=1e-4, anchor=1.0)


def rolling_comparison(
    interactions: pd.DataFrame,
    item_vectors: pd.DataFrame,
    titles: pd.Series,
    profile: str = "workshop",
    windows: int = 3,
    test_days: int = 30,
    valid_days: int = 30,
    selection_seed: int = 42,
    bootstrap: int = 1000,
    progress: bool = True,
    adapt_encoder: bool = True,
):
    """Records, per-customer scores, the cold view's per-product gains and the choices of every window
    (window 1 = the latest)."""
    plan = get_profile(profile).rolling_benchmark
    adaptation = replace(ADAPTATION, max_pairs=plan["adaptation_pairs"]) if adapt_encoder else None
    base = TwoTowerConfig(epochs=plan["two_tower_epochs"])
    records, scores, gains, choices = [], [], [], {}
    for origin in tqdm(
        rolling_origins(interactions, windows, test_days, valid_days), desc="windows", disable=not progress
    ):
        result = compare_on_window(
            origin.interactions(interactions),
            origin.split,
            item_vectors,
            titles,
            plan["seeds"],
            base,
            origin.number,
            selection_seed,
            bootstrap,
            progress,
            adaptation,
        )
        records += [{**r, "data_end": origin.data_end} for r in result.records]
        scores.append(result.score_table())
        gains.append(result.gain_table())
        choices[origin.number] = {"data_end": origin.data_end, **origin.split.as_dict(), **result.choices}
    return records, pd.concat(scores, ignore_index=True), pd.concat(gains, ignore_index=True), choices


LANGUAGE_MODELS = (TEXT, TEXT_IDS, BLEND, ADAPTED, ENCODER_MEAN, ENCODER_NEIGHBOURS, ENCODER_PROFILE_BLEND)


def text_candidates(scores: pd.DataFrame) -> dict:
    """The language-model models and blends to judge, per view (the blend is judged on discovery only:
    its new products are ranked by its text part alone)."""
    evaluated = {view: set(scores.loc[scores["view"] == view, "model"]) for view in ("discovery", "cold")}
    text = [m for m in dict.fromkeys(scores["model"]) if m in LANGUAGE_MODELS]
    return {
        "discovery": [m for m in text if m in evaluated["discovery"]],
        "cold": [m for m in text if m != BLEND and m in evaluated["cold"]],
    }


def ablation_table(
    scores: pd.DataFrame, choices: dict, samples: int = 1000, gains: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The best text model (chosen on each window's validation) against its ablations, pooled and paired.

    Without its popularity prior, without text (IDs only) and without IDs
    (text only); positive differences are what the removed part contributed.
    """
    best = {w: c["best_text"] for w, c in choices.items()}
    rows = []
    for view in ("discovery", "cold"):
        for label, other in (
            ("without popularity prior", lambda b: NO_PRIOR),
            ("without text (IDs only)", lambda b: "two-tower (IDs only)"),
            ("without IDs (text only)", lambda b: TEXT),
        ):
            parts, gain_parts = [], []
            for window, best_text in best.items():
                ablated = other(best_text)
                if ablated == best_text or (view == "cold" and "IDs only" in ablated):
                    continue  # the best model has no IDs to remove, or the ablation cannot rank new items
                rename = {best_text: "best text model", ablated: "ablated"}
                for frame, out in ((scores, parts), (gains, gain_parts)):
                    if frame is not None and len(frame):
                        part = frame[(frame["window"] == window) & frame["model"].isin(rename)]
                        out.append(part.assign(model=part["model"].map(rename)))
            if not parts:
                continue
            table = paired_comparison(
                pd.concat(parts),
                "best text model",
                "ablated",
                view,
                samples,
                gains=pd.concat(gain_parts) if gain_parts else None,
            )
            pooled = table[table["window"] == "pooled"].iloc[0]
            rows.append(
                {
                    "view": view,
                    "ablation": label,
                    "windows": len(parts),
                    "best text model": float(pooled["model_ndcg@10"]),
                    "ablated": float(pooled["baseline_ndcg@10"]),
                    "contribution": float(pooled["difference"]),
                    "low": float(pooled["low"]),
                    "high": float(pooled["high"]),
                    "low_two_way": float(pooled["low_two_way"]),
                    "high_two_way": float(pooled["high_two_way"]),
                }
            )
    return pd.DataFrame(rows)


def fine_tuned_against_frozen(
    scores: pd.DataFrame, samples: int = 1000, gains: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The adapted encoder against the frozen one under the same heads, per window and pooled, per view."""
    if ADAPTED not in set(scores["model"]):
        return pd.DataFrame()
    return pd.concat(
        [paired_comparison(scores, ADAPTED, TEXT, view, samples, gains=gains) for view in ("discovery", "cold")],
        ignore_index=True,
    )


def summary_tables(
    scores: pd.DataFrame, choices: dict, bootstrap: int = 1000, gains: pd.DataFrame | None = None
) -> dict:
    """Per-window tables per view, the pooled verdict (each language model against its lexical twin and
    the best lexical and classical models), per-window paired differences and the ablations."""
    candidates = text_candidates(scores)
    verdict = pooled_verdict(scores, candidates, bootstrap, twins=TWINS, gains=gains)
    per_window = pd.concat(
        [
            paired_comparison(scores, row["model"], row["baseline"], row["view"], bootstrap, gains=gains).assign(
                against=row["against"]
            )
            for row in verdict.to_dict(orient="records")
        ],
        ignore_index=True,
    )
    return {
        "windows": {view: window_table(scores, view) for view in ("all", "discovery", "cold")},
        "verdict": verdict,
        "paired": per_window,
        "ablation": ablation_table(scores, choices, bootstrap, gains),
        "fine_tuned": fine_tuned_against_frozen(scores, bootstrap, gains),
    }


TOP_K = "two-tower (text), top layer fine-tuned"
# A short budget: on every window's validation the first 20-step epoch scored best (the curves are
# in the benchmark's JSON, ``choices[window]["curve"]``); early stopping still picks 0 to 4 of them.
TOP_K_SETTINGS = FineTuneConfig(
    regime="top_k", top_layers=1, learning_rate=1e-4, epochs=4, steps_per_epoch=20, patience=1
)


def top_k_on_window(
    data: pd.DataFrame,
    split,
    item_vectors: pd.DataFrame,
    titles: pd.Series,
    seeds,
    window,
    settings: FineTuneConfig = TOP_K_SETTINGS,
    epochs: int = 20,
    selection_seed: int = 42,
    extra_views: dict | None = None,
    on_evaluated=None,
):
    """The frozen ``text`` two-tower model and its top layer fine-tuned, on one window of ``data``.

    The number of fine-tuning epochs (of ``settings.steps_per_epoch``
    steps) is chosen on the validation window, 0 included: when no epoch beats
    the frozen model there, the fine-tuned model *is* the frozen one. Returns
    per-customer score tables (``extra_views``: ``{name: function(model, test) -> per-user frame}``
    adds views) and the window's choice. ``on_evaluated(per_user, name, family, seed)``, when given,
    sees each evaluation whole (the learning curve keeps the cold views' per-product gains).
    """
    from recft_utils.evaluation import build_task, evaluate
    from recft_utils.evaluation.rolling_origin import per_user_scores
    from recft_utils.models.fine_tuned_recommender import FineTunedRecommender
    from recft_utils.models.two_tower_recommender import TwoTowerRecommender
    from recft_utils.text import SentenceEncoder

    base = TwoTowerConfig(epochs=epochs)
    valid, test = build_task(data, split, "valid"), build_task(data, split, "test")
    chooser = TwoTowerRecommender(item_vectors, base, seed=selection_seed, valid_task=valid)
    frozen_epochs = chooser.select_epochs()
    frozen_valid = max(point["valid_ndcg@10"] for point in chooser.validation_curve)
    start = TwoTowerRecommender(item_vectors, base, seed=selection_seed).start_from(
        valid, chooser.valid_model.get_weights()
    )
    tuner = FineTunedRecommender(start, titles, SentenceEncoder.load, settings, valid_task=valid)
    best_epoch = tuner.select_epochs(start.model)
    tuned_valid = max(point["valid_ndcg@10"] for point in tuner.validation_curve)
    tuned_epochs = best_epoch if tuned_valid > frozen_valid else 0
    choice = {
        **split.as_dict(),
        "frozen_epochs": frozen_epochs,
        "frozen_valid_ndcg@10": frozen_valid,
        "curve": tuner.validation_curve,
        "top_k_epochs": tuned_epochs,
        "top_k_steps": tuned_epochs * settings.steps_per_epoch,
    }
    scores = []

    def add(model, name, family, seed):
        per_user = evaluate(model, test)
        per_user.update({view: measure(model, test) for view, measure in (extra_views or {}).items()})
        scores.append(per_user_scores(per_user, name, family, seed, window))
        if on_evaluated is not None:
            on_evaluated(per_user, name, family, seed)

    for seed in seeds:
        frozen = TwoTowerRecommender(item_vectors, base, seed=seed, name=TEXT).fit(test, frozen_epochs)
        add(frozen, TEXT, frozen.family, seed)
        tuned = frozen
        if tuned_epochs:
            tuned = FineTunedRecommender(frozen, titles, SentenceEncoder.load, settings, name=TOP_K)
            tuned.fit(test, tuned_epochs)
        add(tuned, TOP_K, "text-fine-tuned", seed)
    return scores, choice


def top_k_windows(
    interactions: pd.DataFrame,
    item_vectors: pd.DataFrame,
    titles: pd.Series,
    seeds,
    windows: int = 3,
    settings: FineTuneConfig = TOP_K_SETTINGS,
    epochs: int = 20,
    selection_seed: int = 42,
    bootstrap: int = 1000,
    progress: bool = True,
):
    """The frozen ``text`` two-tower model against the same model with its encoder's top layer fine-tuned
    (:func:`top_k_on_window` on each window of a rolling origin). Returns the per-customer scores and
    each window's choice."""
    scores, choices = [], {}
    for origin in tqdm(rolling_origins(interactions, windows), desc="windows", disable=not progress):
        window_scores, choices[origin.number] = top_k_on_window(
            origin.interactions(interactions),
            origin.split,
            item_vectors,
            titles,
            seeds,
            origin.number,
            settings,
            epochs,
            selection_seed,
        )
        scores += window_scores
    return pd.concat(scores, ignore_index=True), choices


def top_k_table(scores: pd.DataFrame, bootstrap: int = 1000) -> pd.DataFrame:
    """:data:`TOP_K` minus the frozen model, paired per customer, per window and pooled, per view."""
    return pd.concat(
        [paired_comparison(scores, TOP_K, TEXT, view, bootstrap) for view in ("discovery", "cold")], ignore_index=True
    )
