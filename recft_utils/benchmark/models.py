"""Train and evaluate the step-3 models on the test window, several seeds each.

Every record has the keys of the baselines benchmark (``model``, ``view``,
``ndcg@10``, ``recall@10``, ``n_users``, split dates) plus ``seed``,
``regime``, ``train_seconds``, ``examples_per_second`` and ``peak_rss_mb``.
"""

from __future__ import annotations

import resource
import time

import pandas as pd

from recft_utils.evaluation import build_task, evaluate, summarise
from recft_utils.models.baselines import FrozenEncoderMean
from recft_utils.models.seed_model import SeedIDModel, SeedModelConfig
from recft_utils.models.two_tower import TwoTowerConfig, TwoTowerRecommender

# Seeds and epochs per profile: tiny is a smoke test, workshop what a learner runs.
# The seed model's epochs are capped below the seed's 10 in `workshop` to keep the chapter short.
PROFILE_PLAN = {
    "tiny": {"seeds": [0], "two_tower_epochs": 3, "seed_model_epochs": 2},
    "workshop": {"seeds": [0, 1, 2], "two_tower_epochs": 20, "seed_model_epochs": 5},
    "full": {"seeds": [0, 1, 2, 3, 4], "two_tower_epochs": 40, "seed_model_epochs": 10},
}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluation_records(model, task, split, seed, regime, seconds, k=10, bootstrap=1000, extra=None):
    """Evaluate a fitted model on every view it supports; one record per view, with its cost."""
    per_user = evaluate(model, task, k=k)
    out = []
    for record in summarise(per_user, model.name, k=k, bootstrap=bootstrap, seed=seed):
        out.append({**record, "seed": seed, "regime": regime, "train_seconds": round(seconds, 2),
                    "peak_rss_mb": round(peak_rss_mb(), 1), **(extra or {}), **split.as_dict()})
    return out


def model_records(interactions: pd.DataFrame, split, item_vectors: pd.DataFrame, profile: str = "workshop",
                  k: int = 10, bootstrap: int = 1000, strategy: str = "default", selection_seed: int = 42,
                  progress: bool = True) -> list[dict]:
    """The frozen encoder, the seed's ID model and the two-tower model, over the profile's seeds.

    ``selection_seed`` seeds the early-stopping run that picks the epoch count,
    as notebook 03 does with its ``seed`` parameter, so both report the same models.
    """
    from tqdm import tqdm

    plan = PROFILE_PLAN[profile]
    test = build_task(interactions, split, "test")
    valid = build_task(interactions, split, "valid")
    records = []

    frozen = FrozenEncoderMean(item_vectors).fit(test)
    records += evaluation_records(frozen, test, split, 0, "none (pretrained)", 0.0, k, bootstrap)

    config = TwoTowerConfig(epochs=plan["two_tower_epochs"])
    # early stopping on the validation window picks the epoch count once
    chooser = TwoTowerRecommender(item_vectors, config, seed=selection_seed, strategy=strategy, valid_task=valid)
    epochs = chooser.select_epochs()
    for seed in tqdm(plan["seeds"], desc="seeds", disable=not progress):
        started = time.perf_counter()
        seed_model = SeedIDModel(SeedModelConfig(epochs=plan["seed_model_epochs"]), seed=seed).fit(test)
        records += evaluation_records(seed_model, test, split, seed, "ID embeddings", time.perf_counter() - started,
                            k, bootstrap)
        two_tower = TwoTowerRecommender(item_vectors, config, seed=seed, strategy=strategy).fit(test, epochs)
        extra = {"epochs": epochs, "examples_per_second": round(two_tower.stats["examples_per_second"], 1)}
        records += evaluation_records(two_tower, test, split, seed, "frozen encoder + adapter",
                            two_tower.stats["train_seconds"], k, bootstrap, extra)
    return records


def seed_summary(records: list[dict], k: int = 10) -> pd.DataFrame:
    """Mean, min and max over seeds of NDCG@k per model and view, with mean cost."""
    frame = pd.DataFrame(records)
    grouped = frame.groupby(["model", "view"], sort=False)
    table = grouped.agg(
        seeds=("seed", "nunique"),
        ndcg_mean=(f"ndcg@{k}", "mean"), ndcg_min=(f"ndcg@{k}", "min"), ndcg_max=(f"ndcg@{k}", "max"),
        ndcg_low=(f"ndcg@{k}_low", "mean"), ndcg_high=(f"ndcg@{k}_high", "mean"),
        train_seconds=("train_seconds", "mean"), peak_rss_mb=("peak_rss_mb", "max"),
    )
    return table.reset_index()


def comparison_table(records: list[dict], k: int = 10) -> pd.DataFrame:
    """One row per model: NDCG@k per view as "mean (min–max over seeds)", and mean training time."""
    summary = seed_summary(records, k)

    def cell(row):
        if row["seeds"] <= 1:
            return f"{row['ndcg_mean']:.3f}"
        return f"{row['ndcg_mean']:.3f} ({row['ndcg_min']:.3f}–{row['ndcg_max']:.3f})"

    summary["cell"] = summary.apply(cell, axis=1)
    table = summary.pivot(index="model", columns="view", values="cell")
    table = table.reindex(index=summary["model"].unique(),
                          columns=[v for v in ("all", "discovery", "cold") if v in table.columns])
    table.columns = [f"NDCG@{k} {v}" for v in table.columns]
    seconds = summary.groupby("model", sort=False)["train_seconds"].first()
    table["train s"] = seconds.reindex(table.index).round(1)
    return table.fillna("–")
