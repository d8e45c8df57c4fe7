"""``python -m recft_utils.benchmark base-models``: BERT or GPT? Each base model frozen in the same recipes.

Step 1 of the method asks which pretrained model to start from. Speed alone
does not answer it, so every base model (and, for the GPT-style decoder, each
way of pooling its token states into one vector) is used frozen in the same
two recipes, on the rolling origin's windows, with every choice remade on
each window's validation window:

- the ``text`` two-tower model on the model's item vectors (epochs chosen by
  early stopping), trained with the profile's seeds;
- title neighbours' recent popularity and its personalised blend with the
  customer's title profile, both by the model's cosine (the cold view's
  strongest recipe), settings chosen on validation.

Cost is the time to encode the catalogue and the model's size. The lexical
twins (the same recipes on word overlap) are measured beside them.
"""

from __future__ import annotations

import time

import pandas as pd
from tqdm import tqdm

from recft_utils.benchmark.window_comparison import TEXT, choose_variants
from recft_utils.config import get_profile
from recft_utils.evaluation import build_task, evaluate
from recft_utils.evaluation.rolling_origin import item_gain_scores, per_user_scores, rolling_origins
from recft_utils.models.fair_baselines import tune_title_models
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender
from recft_utils.text.lexical import lexical_item_vectors

# (model, pooling) pairs, cheapest first; the first is the chapter's model
ENCODERS = (
    ("all-MiniLM-L6-v2", "mean"),
    ("paraphrase-MiniLM-L3-v2", "mean"),
    ("SmolLM2-135M-Instruct", "mean"),
    ("SmolLM2-135M-Instruct", "last-token prompt"),
)
WORDS = "words (TF-IDF)"


def encoder_label(model: str, pooling: str) -> str:
    return model if pooling == "mean" else f"{model}, {pooling}"


def encode_with(model: str, pooling: str, titles: pd.Series, batch_size: int = 64) -> tuple[pd.DataFrame, dict]:
    """The catalogue's item vectors from one base model, frozen, and what it cost."""
    from recft_utils.text.base_encoders import load_base_encoder

    started = time.perf_counter()
    encoder = load_base_encoder(model, pooling)
    loaded = time.perf_counter()
    vectors = encoder.encode(list(titles), batch_size=batch_size)
    seconds = time.perf_counter() - loaded
    cost = {
        "encoder": encoder_label(model, pooling),
        "model": model,
        "pooling": pooling,
        "family": encoder.family,
        "parameters": int(encoder.parameters),
        "dim": int(encoder.dim),
        "load_seconds": loaded - started,
        "encode_seconds": seconds,
        "titles_per_second": len(titles) / seconds,
    }
    return pd.DataFrame(vectors, index=titles.index), cost


def recipes_on_window(
    data: pd.DataFrame,
    split,
    titles: pd.Series,
    vectors: pd.DataFrame,
    weighting,
    label: str,
    seeds,
    window: int,
    epochs: int,
    selection_seed: int,
    family: str | None = None,
):
    """Both recipes on one window: the two-tower on ``vectors`` (``family``: None for the encoder's), the
    title models by ``weighting`` (the vectors, or a word weighting). Returns per-customer scores (models
    named ``recipe · label``), the cold view's per-product gains (for intervals that resample products
    too) and the choices."""
    valid, test = build_task(data, split, "valid"), build_task(data, split, "test")
    chosen = choose_variants(
        vectors, valid, TwoTowerConfig(epochs=epochs), selection_seed, {TEXT: {}}, family=family, ablation=False
    )
    config, epochs_chosen, valid_ndcg, _ = chosen[TEXT]
    scores, gains = [], []

    def add(per_user, name, model_family, seed):
        scores.append(per_user_scores(per_user, name, model_family, seed, window))
        gains.append(item_gain_scores(per_user, name, model_family, seed, window))

    for seed in seeds:
        model = TwoTowerRecommender(vectors, config, seed=seed, family=family).fit(test, epochs_chosen)
        add(evaluate(model, test), f"two-tower · {label}", model.family, seed)
    title_models = tune_title_models(valid, titles, weighting, "title neighbours", "title neighbours + profile")
    for tuned in title_models:
        model = tuned.fit(test)
        add(evaluate(model, test, views=("cold",)), f"{tuned.name} · {label}", model.family, 0)
    choice = {
        "two_tower_epochs": epochs_chosen,
        "two_tower_valid_ndcg@10": valid_ndcg,
        **{tuned.name: tuned.settings for tuned in title_models},
    }
    return scores, gains, choice


def base_model_comparison(
    interactions: pd.DataFrame,
    titles: pd.Series,
    profile: str = "workshop",
    windows: int = 3,
    encoders=ENCODERS,
    selection_seed: int = 42,
    progress: bool = True,
):
    """Per-customer scores of both recipes for every base model and the lexical twin, the cold view's
    per-product gains, costs and choices."""
    plan = get_profile(profile).rolling_benchmark
    representations, costs = {}, []
    for model, pooling in tqdm(encoders, desc="encoding", disable=not progress):
        vectors, cost = encode_with(model, pooling, titles)
        representations[cost["encoder"]] = (vectors, vectors, None)
        costs.append(cost)
    words = lexical_item_vectors(titles, dim=384, seed=selection_seed)
    representations[WORDS] = (words, "tfidf", "lexical")
    scores, gains, choices = [], [], {}
    steps = [(origin, label) for origin in rolling_origins(interactions, windows) for label in representations]
    for origin, label in tqdm(steps, desc="windows x models", disable=not progress):
        vectors, weighting, family = representations[label]
        window_scores, window_gains, choices[f"{origin.number}: {label}"] = recipes_on_window(
            origin.interactions(interactions),
            origin.split,
            titles,
            vectors,
            weighting,
            label,
            plan["seeds"],
            origin.number,
            plan["two_tower_epochs"],
            selection_seed,
            family,
        )
        scores += window_scores
        gains += [frame for frame in window_gains if len(frame)]  # models without a cold view have none
    gains = pd.concat(gains, ignore_index=True) if gains else None
    return pd.concat(scores, ignore_index=True), gains, pd.DataFrame(costs), choices


def base_model_table(
    scores: pd.DataFrame, costs: pd.DataFrame, samples: int = 1000, gains: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per recipe, base model and view: pooled NDCG@10, the paired difference against the same recipe
    on words (the lexical twin) and against the chapter's model, and the model's cost.

    Each difference has its interval over customers (``vs … low``/``high``); with ``gains``
    (:func:`~recft_utils.evaluation.rolling_origin.item_gain_scores` tables) the cold rows also get one
    over customers and products (``vs … low two-way``/``high two-way``): every customer of a window ranks
    the same few new products. Verdicts use the wider of the two.
    """
    from recft_utils.evaluation.rolling_origin import paired_comparison

    rows = []
    chapter = encoder_label(*ENCODERS[0])
    for name in dict.fromkeys(scores["model"]):
        recipe, label = name.split(" · ", 1)
        for view in ("discovery", "cold"):
            part = scores[scores["view"] == view]
            if name not in set(part["model"]):
                continue
            row = {"recipe": recipe, "encoder": label, "view": view}
            for against, other in (("words", f"{recipe} · {WORDS}"), ("chapter model", f"{recipe} · {chapter}")):
                if other != name and other in set(part["model"]):
                    pooled = paired_comparison(part, name, other, view, samples, gains=gains)
                    pooled = pooled[pooled["window"] == "pooled"].iloc[0]
                    row.update(
                        {
                            "ndcg@10": pooled["model_ndcg@10"],
                            f"vs {against}": pooled["difference"],
                            f"vs {against} low": pooled["low"],
                            f"vs {against} high": pooled["high"],
                            f"vs {against} low two-way": pooled["low_two_way"],
                            f"vs {against} high two-way": pooled["high_two_way"],
                        }
                    )
            if "ndcg@10" not in row:
                row["ndcg@10"] = float(part[part["model"] == name].groupby(["window", "user_id"])["ndcg"].mean().mean())
            rows.append(row)
    table = pd.DataFrame(rows)
    cost = costs.set_index("encoder")[["family", "parameters", "titles_per_second"]]
    return table.join(cost, on="encoder")
