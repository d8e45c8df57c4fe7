"""What each worker of a multi-worker run trains and measures: the frozen-encoder two-tower per seed on
the validation window (and, optionally, a fine-tuning regime from it), so that one worker and several
can be compared on the same figures (``python -m recft_utils.benchmark workers``)."""

from __future__ import annotations


def validation_ndcg(
    interactions,
    vectors,
    epochs: int,
    seeds,
    strategy: str = "default",
    test_days: int = 30,
    valid_days: int = 30,
    regime: str | None = None,
    regime_steps: int = 4,
) -> list[dict]:
    """Per seed: the frozen-encoder two-tower trained ``epochs`` epochs on the validation window's history,
    its discovery NDCG@10 on the validation window, its training time and replicas; with ``regime``
    (``top_k``, ``lora``, ``full``), also that fine-tuning regime for ``regime_steps`` steps from it."""
    from recft_utils.evaluation import build_task, evaluate, temporal_split
    from recft_utils.models.distribute import get_strategy
    from recft_utils.models.optimization import replicas
    from recft_utils.models.two_tower import TwoTowerConfig
    from recft_utils.models.two_tower_recommender import TwoTowerRecommender

    task = build_task(interactions, temporal_split(interactions, test_days, valid_days), "valid")
    rows = []
    for seed in seeds:
        model = TwoTowerRecommender(vectors, TwoTowerConfig(epochs=epochs), seed=seed, strategy=strategy).fit(
            task, epochs
        )
        with get_strategy(strategy).scope():
            n_replicas = replicas()
        ndcg = float(evaluate(model, task, views=("discovery",))["discovery"]["ndcg"].mean())
        rows.append(
            {
                "seed": seed,
                "valid_ndcg@10": ndcg,
                "replicas": n_replicas,
                "train_seconds": model.stats["train_seconds"],
                "examples": model.stats["train_examples"],
            }
        )
        if regime:
            rows[-1].update(fine_tuned_quality(model, task, interactions, regime, regime_steps))
    return rows


def fine_tuned_quality(frozen, task, interactions, regime: str, steps: int) -> dict:
    """``regime`` fine-tuned for ``steps`` steps from ``frozen`` (under its strategy): its NDCG@10 and time."""
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.evaluation import evaluate
    from recft_utils.models.fine_tuned_recommender import FineTunedRecommender
    from recft_utils.models.fine_tuning import FineTuneConfig
    from recft_utils.text import SentenceEncoder

    tuned = FineTunedRecommender(
        frozen,
        catalogue_titles(interactions),
        SentenceEncoder.load,
        FineTuneConfig(regime=regime, epochs=1, steps_per_epoch=steps),
    ).fit(task, 1)
    return {
        f"{regime}_valid_ndcg@10": float(evaluate(tuned, task, views=("discovery",))["discovery"]["ndcg"].mean()),
        f"{regime}_train_seconds": tuned.stats["train_seconds"],
    }
