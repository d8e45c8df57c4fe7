"""``python -m recft_utils.benchmark rolling``: step 3's comparison on successive test windows, pooled.

Each window (see :mod:`recft_utils.evaluation.rolling_origin`) is a full
run of :func:`~recft_utils.models.window_comparison.compare_on_window`: fair
baselines and two-tower variants tuned on that window's validation window,
then every model evaluated on its test window with the profile's seeds. The
verdict pools the windows' customers and compares each text model with the
best classical model of each view, with per-customer paired intervals.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from tqdm import tqdm

from recft_utils.config import get_profile
from recft_utils.evaluation.rolling_origin import paired_comparison, pooled_verdict, rolling_origins, window_table
from recft_utils.models.encoder_adaptation import AdaptationConfig
from recft_utils.models.fine_tuning import FineTuneConfig
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.window_comparison import ADAPTED, BLEND, NO_PRIOR, TEXT, TEXT_IDS, compare_on_window

# settings of the encoder adaptation, from validation runs of the latest window (see the README)
ADAPTATION = AdaptationConfig(learning_rate=1e-4, anchor=1.0)


def rolling_comparison(interactions: pd.DataFrame, item_vectors: pd.DataFrame, titles: pd.Series,
                       profile: str = "workshop", windows: int = 3, test_days: int = 30, valid_days: int = 30,
                       selection_seed: int = 42, bootstrap: int = 1000, progress: bool = True,
                       adapt_encoder: bool = True):
    """Records, per-customer scores and the choices of every window (window 1 = the latest)."""
    plan = get_profile(profile).rolling_benchmark
    adaptation = replace(ADAPTATION, max_pairs=plan["adaptation_pairs"]) if adapt_encoder else None
    base = TwoTowerConfig(epochs=plan["two_tower_epochs"])
    records, scores, choices = [], [], {}
    for origin in tqdm(rolling_origins(interactions, windows, test_days, valid_days), desc="windows",
                       disable=not progress):
        result = compare_on_window(origin.interactions(interactions), origin.split, item_vectors, titles,
                                   plan["seeds"], base, origin.number, selection_seed, bootstrap, progress,
                                   adaptation)
        records += [{**r, "data_end": origin.data_end} for r in result.records]
        scores.append(result.score_table())
        choices[origin.number] = {"data_end": origin.data_end, **origin.split.as_dict(), **result.choices}
    return records, pd.concat(scores, ignore_index=True), choices


def text_candidates(scores: pd.DataFrame) -> dict:
    """The text models and blends to judge, per view (the blend cannot rank new products)."""
    text = [m for m in dict.fromkeys(scores["model"]) if m in (TEXT, TEXT_IDS, BLEND, ADAPTED)]
    return {"discovery": text, "cold": [m for m in text if m != BLEND]}


def ablation_table(scores: pd.DataFrame, choices: dict, samples: int = 1000) -> pd.DataFrame:
    """The best text model (chosen on each window's validation) against its ablations, pooled and paired.

    Without its popularity prior, without text (IDs only) and without IDs
    (text only); positive differences are what the removed part contributed.
    """
    best = {w: c["best_text"] for w, c in choices.items()}
    rows = []
    for view in ("discovery", "cold"):
        for label, other in (("without popularity prior", lambda b: NO_PRIOR),
                             ("without text (IDs only)", lambda b: "two-tower (IDs only)"),
                             ("without IDs (text only)", lambda b: TEXT)):
            parts = []
            for window, best_text in best.items():
                ablated = other(best_text)
                if ablated == best_text or (view == "cold" and "IDs only" in ablated):
                    continue  # the best model has no IDs to remove, or the ablation cannot rank new items
                rename = {best_text: "best text model", ablated: "ablated"}
                part = scores[(scores["window"] == window) & scores["model"].isin(rename)]
                parts.append(part.assign(model=part["model"].map(rename)))
            if not parts:
                continue
            table = paired_comparison(pd.concat(parts), "best text model", "ablated", view, samples)
            pooled = table[table["window"] == "pooled"].iloc[0]
            rows.append({"view": view, "ablation": label, "windows": len(parts),
                         "best text model": float(pooled["model_ndcg@10"]), "ablated": float(pooled["baseline_ndcg@10"]),
                         "contribution": float(pooled["difference"]), "low": float(pooled["low"]),
                         "high": float(pooled["high"])})
    return pd.DataFrame(rows)


def fine_tuned_against_frozen(scores: pd.DataFrame, samples: int = 1000) -> pd.DataFrame:
    """The adapted encoder against the frozen one under the same heads, per window and pooled, per view."""
    if ADAPTED not in set(scores["model"]):
        return pd.DataFrame()
    return pd.concat([paired_comparison(scores, ADAPTED, TEXT, view, samples) for view in ("discovery", "cold")],
                     ignore_index=True)


def summary_tables(scores: pd.DataFrame, choices: dict, bootstrap: int = 1000) -> dict:
    """Per-window tables per view, the pooled verdict, per-window paired differences and the ablations."""
    candidates = text_candidates(scores)
    verdict = pooled_verdict(scores, candidates, bootstrap)
    per_window = pd.concat([paired_comparison(scores, row["model"], row["baseline"], row["view"], bootstrap)
                            for row in verdict.to_dict(orient="records")], ignore_index=True)
    return {"windows": {view: window_table(scores, view) for view in ("all", "discovery", "cold")},
            "verdict": verdict, "paired": per_window, "ablation": ablation_table(scores, choices, bootstrap),
            "fine_tuned": fine_tuned_against_frozen(scores, bootstrap)}


TOP_K = "two-tower (text), top layer fine-tuned"
# A short budget: on every window's validation the first 20-step epoch scored best (the curves are
# in the benchmark's JSON, ``choices[window]["curve"]``); early stopping still picks 0 to 4 of them.
TOP_K_SETTINGS = FineTuneConfig(regime="top_k", top_layers=1, learning_rate=1e-4, epochs=4, steps_per_epoch=20,
                                patience=1)


def top_k_windows(interactions: pd.DataFrame, item_vectors: pd.DataFrame, titles: pd.Series, seeds,
                  windows: int = 3, settings: FineTuneConfig = TOP_K_SETTINGS, epochs: int = 20,
                  selection_seed: int = 42, bootstrap: int = 1000, progress: bool = True):
    """The frozen ``text`` two-tower model against the same model with its encoder's top layer fine-tuned.

    On each window the number of fine-tuning epochs (of ``settings.steps_per_epoch``
    steps) is chosen on the validation window, 0 included: when no epoch beats
    the frozen model there, the fine-tuned model *is* the frozen one. Returns
    the per-customer scores and each window's choice.
    """
    from recft_utils.evaluation import build_task, evaluate
    from recft_utils.evaluation.rolling_origin import per_user_scores
    from recft_utils.models.fine_tuning import FineTunedRecommender
    from recft_utils.models.two_tower import TwoTowerRecommender
    from recft_utils.text import SentenceEncoder

    base = TwoTowerConfig(epochs=epochs)
    scores, choices = [], {}
    for origin in tqdm(rolling_origins(interactions, windows), desc="windows", disable=not progress):
        data = origin.interactions(interactions)
        valid, test = build_task(data, origin.split, "valid"), build_task(data, origin.split, "test")
        chooser = TwoTowerRecommender(item_vectors, base, seed=selection_seed, valid_task=valid)
        frozen_epochs = chooser.select_epochs()
        frozen_valid = max(point["valid_ndcg@10"] for point in chooser.validation_curve)
        start = TwoTowerRecommender(item_vectors, base, seed=selection_seed).start_from(
            valid, chooser.valid_model.get_weights())
        tuner = FineTunedRecommender(start, titles, SentenceEncoder.load, settings, valid_task=valid)
        best_epoch = tuner.select_epochs(start.model)
        tuned_valid = max(point["valid_ndcg@10"] for point in tuner.validation_curve)
        tuned_epochs = best_epoch if tuned_valid > frozen_valid else 0
        choices[origin.number] = {**origin.split.as_dict(), "frozen_epochs": frozen_epochs,
                                  "frozen_valid_ndcg@10": frozen_valid, "curve": tuner.validation_curve,
                                  "top_k_epochs": tuned_epochs, "top_k_steps": tuned_epochs * settings.steps_per_epoch}
        for seed in seeds:
            frozen = TwoTowerRecommender(item_vectors, base, seed=seed, name=TEXT).fit(test, frozen_epochs)
            scores.append(per_user_scores(evaluate(frozen, test), TEXT, frozen.family, seed, origin.number))
            tuned = frozen
            if tuned_epochs:
                tuned = FineTunedRecommender(frozen, titles, SentenceEncoder.load, settings, name=TOP_K)
                tuned.fit(test, tuned_epochs)
            scores.append(per_user_scores(evaluate(tuned, test), TOP_K, "text-fine-tuned", seed, origin.number))
    return pd.concat(scores, ignore_index=True), choices


def top_k_table(scores: pd.DataFrame, bootstrap: int = 1000) -> pd.DataFrame:
    """:data:`TOP_K` minus the frozen model, paired per customer, per window and pooled, per view."""
    return pd.concat([paired_comparison(scores, TOP_K, TEXT, view, bootstrap) for view in ("discovery", "cold")],
                     ignore_index=True)
