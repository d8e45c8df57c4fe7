"""What step 3 trains for a profile, and the one code path that trains and evaluates it.

Notebook 03 and ``python -m recft_utils.benchmark`` both call the functions
here, so a chapter never re-implements the benchmark: notebook 03
trains fewer seeds and a smaller budget (the profile's ``training["chapter"]``
in :data:`recft_utils.config.PROFILES`), the benchmark the rest. Step 1's
baselines are :mod:`recft_utils.experiments.baseline_plan`'s.

Every record has the keys of the baselines benchmark (``model``, ``view``,
``ndcg@10``, ``recall@10``, ``n_users``, ``family``, split dates) plus
``seed``, ``regime``, ``train_seconds`` and ``peak_rss_mb``.
"""

from __future__ import annotations

import time

from recft_utils.config import get_profile
from recft_utils.evaluation import evaluate, summarise
from recft_utils.machine import peak_rss_mb
from recft_utils.models.article_model import ArticleIDModel, ArticleModelConfig
from recft_utils.models.blend import ScoreBlend
from recft_utils.models.fair_baselines import EASE_POPULARITY
from recft_utils.models.fine_tuning import REGIME_LABELS, FineTuneConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender


def blend_name(bar: str = EASE_POPULARITY) -> str:
    """The name of the frozen two-tower model blended with step 1's classical ``bar`` (its settings
    tuned on validation), the blend's weight chosen on validation too."""
    return f"blend: two-tower (frozen) + {bar}"


def blend_regime(bar: str = EASE_POPULARITY) -> str:
    """The regime label of :func:`blend_name`'s blend."""
    return f"frozen encoder + adapter, blended with {bar}"


BLEND_NAME, BLEND_REGIME = blend_name(), blend_regime()  # the built-in shop's: its bar is EASE + recent popularity

# Per-regime settings, from validation runs: the encoder learns slowly (1e-4 for the top
# layer; 3e-4 was worse), LoRA's small updates take a larger rate.
REGIME_SETTINGS = {
    "top_k": {"top_layers": 1, "learning_rate": 1e-4},
    "lora": {"lora_rank": 8, "learning_rate": 1e-3},
    "full": {"learning_rate": 5e-5},
}


def regime_config(regime: str, profile: str, **changes) -> FineTuneConfig:
    """The fine-tuning settings of ``regime`` with the profile's epoch budget (and, where the profile has
    them, its ``fine_tune_changes`` for the regime: ``tiny`` trains smaller batches, encodes faster)."""
    training = get_profile(profile).training
    settings = {
        "epochs": training["fine_tune_epochs"][regime],
        **REGIME_SETTINGS[regime],
        **training.get("fine_tune_changes", {}).get(regime, {}),
        **changes,
    }
    return FineTuneConfig(regime=regime, **settings).checked()


def evaluation_records(model, task, split, seed, regime, seconds, k=10, bootstrap=1000, extra=None):
    """Evaluate a fitted model on every view it supports; one record per view, with its cost."""
    per_user = evaluate(model, task, k=k)
    out = []
    for record in summarise(per_user, model.name, k=k, bootstrap=bootstrap, seed=seed, family=model.family):
        out.append(
            {
                **record,
                "seed": seed,
                "regime": regime,
                "train_seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                **(extra or {}),
                **split.as_dict(),
            }
        )
    return out


def article_model_records(task, split, seeds, epochs: int, k: int = 10, bootstrap: int = 1000) -> list[dict]:
    """The methodology's ID-embedding model, rebuilt (:mod:`.article_model`), trained and evaluated once per seed."""
    records = []
    for seed in seeds:
        started = time.perf_counter()
        model = ArticleIDModel(ArticleModelConfig(epochs=epochs), seed=seed).fit(task)
        records += evaluation_records(
            model, task, split, seed, "ID embeddings", time.perf_counter() - started, k, bootstrap
        )
    return records


def two_tower_records(
    item_vectors, config, epochs: int, task, split, seeds, strategy: str = "default", k: int = 10, bootstrap: int = 1000
) -> tuple[dict, list[dict]]:
    """The frozen-encoder two-tower model, fitted on ``task``'s history once per seed and evaluated.

    Returns the fitted recommenders by seed (the starting points of
    fine-tuning and blending) and their records.
    """
    models, records = {}, []
    for seed in seeds:
        model = TwoTowerRecommender(item_vectors, config, seed=seed, strategy=strategy).fit(task, epochs)
        models[seed] = model
        extra = {"epochs": epochs, "examples_per_second": round(model.stats["examples_per_second"], 1)}
        records += evaluation_records(
            model, task, split, seed, REGIME_LABELS["frozen"], model.stats["train_seconds"], k, bootstrap, extra
        )
    return models, records


def blend_records(
    models: dict, classical, classical_seconds: float, weight: float, task, split, k: int = 10, bootstrap: int = 1000
) -> list[dict]:
    """Each seed's two-tower model blended with ``classical`` (fitted on ``task``) at ``weight``."""
    records = []
    for seed, model in models.items():
        blend = ScoreBlend(model, classical, weight, name=blend_name(classical.name)).fit(task)
        records += evaluation_records(
            blend,
            task,
            split,
            seed,
            blend_regime(classical.name),
            model.stats["train_seconds"] + classical_seconds,
            k,
            bootstrap,
            {"blend_weight": weight},
        )
    return records


def fine_tuned_records(
    tuner, task, split, epochs: int, frozen_seconds: float, k: int = 10, bootstrap: int = 1000
) -> list[dict]:
    """Fine-tune ``tuner`` (a :class:`~.fine_tuning.FineTunedRecommender`) on ``task``'s history, evaluate it.

    A regime's cost includes ``frozen_seconds``, the frozen stage it starts from.
    """
    tuner.fit(task, epochs)
    extra = {"epochs": epochs, "examples_per_second": round(tuner.stats["examples_per_second"], 1)}
    seconds = frozen_seconds + tuner.stats["train_seconds"]
    return evaluation_records(
        tuner, task, split, tuner.seed, REGIME_LABELS[tuner.config.regime], seconds, k, bootstrap, extra
    )


def judge_regimes(frozen, titles, load_encoder, valid_task, chapter: dict, profile: str, sequence_length: int) -> dict:
    """Each fine-tuning regime of ``chapter["regimes"]``, started from ``frozen`` (the frozen-encoder model
    trained on ``valid_task``'s history) and judged on the validation window; or, for regimes the
    profile only times (``chapter["other_regime_steps"]``), a few steps' throughput.

    Returns, by regime: ``settings``, and for the judged ones ``epochs`` (chosen), ``scores`` (per
    customer, for the serving rule), ``names`` and ``validation`` (the best NDCG@10); ``cost`` by label
    (examples per second, trainable weights).
    """
    from recft_utils.models.fine_tuned_recommender import FineTunedRecommender

    judged = {key: {} for key in ("settings", "epochs", "scores", "names", "validation", "cost")}
    for regime in chapter["regimes"]:
        budget = (
            {"epochs": chapter["top_k_epochs"], "steps_per_epoch": chapter["top_k_steps"]} if regime == "top_k" else {}
        )
        judged["settings"][regime] = regime_config(regime, profile, sequence_length=sequence_length, **budget)
        tuner = FineTunedRecommender(frozen, titles, load_encoder, judged["settings"][regime], valid_task=valid_task)
        if regime != "top_k" and chapter["other_regime_steps"]:  # cost only: a few steps, not judged
            rate = tuner.throughput(valid_task, frozen.model, steps=chapter["other_regime_steps"])
        else:
            judged["epochs"][regime] = tuner.select_epochs(frozen.model)
            judged["validation"][regime] = max(point["valid_ndcg@10"] for point in tuner.validation_curve)
            judged["scores"][regime], judged["names"][regime] = tuner.validation_scores, tuner.name
            rate = tuner.stats["examples_per_second"]
        judged["cost"][REGIME_LABELS[regime]] = {
            "examples/s": rate,
            "trainable weights": tuner.stats["trainable_parameters"],
        }
    return judged
