"""Train and evaluate the step-3 models on the test window, several seeds each.

Every record has the keys of the baselines benchmark (``model``, ``view``,
``ndcg@10``, ``recall@10``, ``n_users``, split dates) plus ``seed``,
``regime``, ``train_seconds``, ``examples_per_second`` and ``peak_rss_mb``.

Settings are chosen on the validation window only (the search, the epoch
counts); the test window is evaluated once per model and seed.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

import pandas as pd

from recft_utils.benchmark.processes import in_child_process
from recft_utils.evaluation import build_task, evaluate, summarise
from recft_utils.models.baselines import EASE, FrozenEncoderMean
from recft_utils.models.blend import ScoreBlend, choose_weight
from recft_utils.models.fine_tuning import REGIME_LABELS, FineTuneConfig, FineTunedRecommender
from recft_utils.models.seed_model import SeedIDModel, SeedModelConfig
from recft_utils.models.two_tower import TwoTowerConfig, TwoTowerRecommender

# Seeds, epoch budgets and search trials per profile: tiny is a smoke test, workshop what a
# learner runs. The seed model's epochs are capped below the seed's 10 in `workshop` to keep
# the chapter short. Fine-tuning epochs are budgets: early stopping on the validation window
# picks fewer when they do not help (a budget of one epoch leaves nothing to choose).
# "chapter": what notebook 03 runs within its time budget: fewer seeds and trials, one top-k
# epoch, and only a few steps of LoRA and full fine-tuning (enough to measure their cost);
# the benchmark runs the rest.
PROFILE_PLAN = {
    "tiny": {"seeds": [0], "two_tower_epochs": 3, "seed_model_epochs": 2, "search_trials": 2,
             "fine_tune_epochs": {"top_k": 1, "lora": 1, "full": 1}, "throughput_steps": 2,
             "chapter": {"seeds": [0], "seed_model_epochs": 2, "search_trials": 2, "top_k_epochs": 1,
                         "other_regime_steps": 2}},
    "workshop": {"seeds": [0, 1, 2], "two_tower_epochs": 20, "seed_model_epochs": 5, "search_trials": 3,
                 "fine_tune_epochs": {"top_k": 3, "lora": 1, "full": 1}, "throughput_steps": 6,
                 "chapter": {"seeds": [0], "seed_model_epochs": 3, "search_trials": 2, "top_k_epochs": 1,
                             "other_regime_steps": 6}},
    "full": {"seeds": [0, 1, 2, 3, 4], "two_tower_epochs": 40, "seed_model_epochs": 10, "search_trials": 20,
             "fine_tune_epochs": {"top_k": 6, "lora": 3, "full": 2}, "throughput_steps": 10,
             "chapter": {"seeds": [0, 1, 2], "seed_model_epochs": 10, "search_trials": 20, "top_k_epochs": 3,
                         "other_regime_steps": None}},
}

# The frozen two-tower model blended with EASE (the best classical baseline), weight chosen on validation.
BLEND_NAME = "blend: two-tower (frozen) + EASE"
BLEND_REGIME = "frozen encoder + adapter, blended with EASE"

# Per-regime settings, from validation runs: the encoder learns slowly (1e-4 for the top
# layer; 3e-4 was worse), LoRA's small updates take a larger rate.
REGIME_SETTINGS = {
    "top_k": {"top_layers": 1, "learning_rate": 1e-4},
    "lora": {"lora_rank": 8, "learning_rate": 1e-3},
    "full": {"learning_rate": 5e-5},
}


def regime_config(regime: str, profile: str, **changes) -> FineTuneConfig:
    """The fine-tuning settings of ``regime`` with the profile's epoch budget."""
    settings = {"epochs": PROFILE_PLAN[profile]["fine_tune_epochs"][regime], **REGIME_SETTINGS[regime], **changes}
    return FineTuneConfig(regime=regime, **settings).checked()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluation_records(model, task, split, seed, regime, seconds, k=10, bootstrap=1000, extra=None):
    """Evaluate a fitted model on every view it supports; one record per view, with its cost."""
    per_user = evaluate(model, task, k=k)
    out = []
    for record in summarise(per_user, model.name, k=k, bootstrap=bootstrap, seed=seed, family=model.family):
        out.append({**record, "seed": seed, "regime": regime, "train_seconds": round(seconds, 2),
                    "peak_rss_mb": round(peak_rss_mb(), 1), **(extra or {}), **split.as_dict()})
    return out


@dataclass
class FrozenStart:
    """A trained frozen-encoder two-tower model, in picklable form, for a child process to fine-tune.

    ``weights`` are the model's ``get_weights()`` after fitting on the
    ``window`` task ("valid" or "test") with ``config`` and ``seed``.
    """

    interactions: pd.DataFrame
    split: object
    window: str
    item_vectors: pd.DataFrame
    config: TwoTowerConfig
    seed: int
    weights: list
    train_seconds: float = 0.0

    @classmethod
    def of(cls, recommender: TwoTowerRecommender, model, interactions, split, window: str) -> "FrozenStart":
        return cls(interactions, split, window, recommender.item_vectors, recommender.config, recommender.seed,
                   model.get_weights(), recommender.stats.get("train_seconds", 0.0))

    def fine_tuner(self, settings: FineTuneConfig) -> FineTunedRecommender:
        """The fine-tuner of ``settings``, starting from the restored frozen model (fitted on its task)."""
        from recft_utils.models.two_tower import catalogue_titles
        from recft_utils.text import SentenceEncoder

        task = build_task(self.interactions, self.split, self.window)
        frozen = TwoTowerRecommender(self.item_vectors, self.config, seed=self.seed).restore(task, self.weights)
        return FineTunedRecommender(frozen, catalogue_titles(self.interactions), SentenceEncoder.load, settings,
                                    valid_task=task if self.window == "valid" else None)


def select_regime_epochs(start: FrozenStart, settings: FineTuneConfig) -> int:
    """Early stopping on the validation window (``start`` fitted on the validation task's history)."""
    tuner = start.fine_tuner(settings)
    return tuner.select_epochs(tuner.frozen.model)


def regime_test_records(start: FrozenStart, settings: FineTuneConfig, epochs: int, k: int, bootstrap: int) -> list:
    """Fine-tune for ``epochs`` on the test task's history and evaluate on its window."""
    tuner = start.fine_tuner(settings)
    tuner.fit(tuner.frozen.task, epochs)
    extra = {"epochs": epochs, "examples_per_second": round(tuner.stats["examples_per_second"], 1)}
    # a regime's cost includes the frozen stage it starts from
    return evaluation_records(tuner, tuner.frozen.task, start.split, start.seed, REGIME_LABELS[settings.regime],
                              start.train_seconds + tuner.stats["train_seconds"], k, bootstrap, extra)


def regime_throughput(start: FrozenStart, settings: FineTuneConfig, steps: int) -> dict:
    """Training examples/s of one regime over ``steps`` steps, with the process's peak memory."""
    tuner = start.fine_tuner(settings)
    rate = tuner.throughput(tuner.frozen.task, tuner.frozen.model, steps=steps)
    return {"regime": REGIME_LABELS[settings.regime], "xla": settings.jit_compile, "bf16": settings.mixed_precision,
            "batch_size": settings.batch_size, "negatives": settings.negatives,
            "examples_per_second": round(rate, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}


def model_records(interactions: pd.DataFrame, split, item_vectors: pd.DataFrame, profile: str = "workshop",
                  k: int = 10, bootstrap: int = 1000, strategy: str = "default", selection_seed: int = 42,
                  progress: bool = True, search_dir=None, regimes=("top_k", "lora", "full"),
                  chosen: dict | None = None) -> list[dict]:
    """The frozen encoder, the seed's ID model, the two-tower model and each fine-tuning regime.

    ``selection_seed`` seeds the validation runs that choose settings and epoch
    counts, as notebook 03 does with its ``seed`` parameter; with ``search_dir``
    a KerasTuner search of the profile's budget picks the two-tower settings first.
    ``chosen``, when given, receives the settings and epoch counts chosen on the validation window.
    Each fine-tuning run happens in its own child process (see :mod:`.processes`).
    """
    from tqdm import tqdm

    plan = PROFILE_PLAN[profile]
    test = build_task(interactions, split, "test")
    valid = build_task(interactions, split, "valid")
    records = []

    frozen = FrozenEncoderMean(item_vectors).fit(test)
    records += evaluation_records(frozen, test, split, 0, "none (pretrained)", 0.0, k, bootstrap)

    chooser, config, epochs = choose_two_tower(item_vectors, valid, plan, strategy, selection_seed, search_dir)
    valid_start = FrozenStart.of(chooser, chooser.valid_model, interactions, split, "valid")
    tuned = {}
    for regime in regimes:  # epochs of each regime, chosen once on the validation window
        settings = regime_config(regime, profile)
        tuned[regime] = (in_child_process(select_regime_epochs, valid_start, settings)
                         if settings.epochs > 1 else settings.epochs)
    started = time.perf_counter()
    ease = EASE().fit(test)
    ease_seconds = time.perf_counter() - started
    blend_weight, _ = choose_weight(TwoTowerRecommender(item_vectors, config).restore(valid, valid_start.weights),
                                    EASE().fit(valid), valid)
    if chosen is not None:
        chosen.update(config=config, epochs=epochs, regime_epochs=dict(tuned), blend_weight=blend_weight)

    for seed in tqdm(plan["seeds"], desc="seeds", disable=not progress):
        started = time.perf_counter()
        seed_model = SeedIDModel(SeedModelConfig(epochs=plan["seed_model_epochs"]), seed=seed).fit(test)
        records += evaluation_records(seed_model, test, split, seed, "ID embeddings", time.perf_counter() - started,
                                      k, bootstrap)
        two_tower = TwoTowerRecommender(item_vectors, config, seed=seed, strategy=strategy).fit(test, epochs)
        extra = {"epochs": epochs, "examples_per_second": round(two_tower.stats["examples_per_second"], 1)}
        records += evaluation_records(two_tower, test, split, seed, REGIME_LABELS["frozen"],
                                      two_tower.stats["train_seconds"], k, bootstrap, extra)
        blend = ScoreBlend(two_tower, ease, blend_weight, name=BLEND_NAME).fit(test)
        records += evaluation_records(blend, test, split, seed, BLEND_REGIME,
                                      two_tower.stats["train_seconds"] + ease_seconds,
                                      k, bootstrap, {"blend_weight": blend_weight})
        start = FrozenStart.of(two_tower, two_tower.model, interactions, split, "test")
        for regime, regime_epochs in tuned.items():
            records += in_child_process(regime_test_records, start, regime_config(regime, profile), regime_epochs,
                                        k, bootstrap)
    return records


def choose_two_tower(item_vectors, valid, plan, strategy, seed, search_dir=None):
    """Settings and epoch count of the two-tower model, from the validation window only.

    Returns the recommender trained on the validation task's history (the
    starting point of the fine-tuning regimes' epoch selection), its settings and epochs.
    """
    base = TwoTowerConfig(epochs=plan["two_tower_epochs"])
    if search_dir is not None:
        from recft_utils.models.tuning import search

        result = search(item_vectors, valid, base, plan["search_trials"], search_dir, seed=seed)
        return result.model, result.config, result.epochs
    chooser = TwoTowerRecommender(item_vectors, base, seed=seed, strategy=strategy, valid_task=valid)
    return chooser, base, chooser.select_epochs()


def ablation_records(interactions, split, item_vectors, config: TwoTowerConfig, profile: str = "workshop",
                     seed: int = 42) -> list[dict]:
    """Augmented titles and FGM against the chosen two-tower settings, validation window, the profile's seeds.

    The augmented titles are made as notebook 02 makes them (same seed, same
    number of items), then encoded by the pretrained model.
    """
    from recft_utils.config import PROFILES
    from recft_utils.models.tuning import ablation
    from recft_utils.models.two_tower import catalogue_titles, encode_augmented_titles
    from recft_utils.text import SentenceEncoder, augmentation, encoder as text_encoder

    encoder = SentenceEncoder.load()
    synonyms = augmentation.SynonymTable.from_token_embeddings(
        encoder.tokenizer, text_encoder.token_embedding_matrix(encoder.backbone))
    titles = catalogue_titles(interactions)
    items = pd.DataFrame({"item_id": titles.index, "item_text": titles.to_numpy()})
    augmented = augmentation.augment_titles(items, synonyms, seed=seed, n_items=PROFILES[profile].augment_titles)
    valid = build_task(interactions, split, "valid")
    table = ablation(item_vectors, valid, config, PROFILE_PLAN[profile]["seeds"],
                     augmented_vectors=encode_augmented_titles(augmented, encoder))
    return table.assign(peak_rss_mb=round(peak_rss_mb(), 1)).to_dict(orient="records")


def throughput_records(interactions, split, item_vectors, profile: str = "workshop", seed: int = 0) -> list[dict]:
    """Training examples/s of each regime at the same batch size, and what XLA and bf16 change.

    Measured one after the other on the test task's history, each in its own
    child process: compare the ratios, not the absolute numbers, across machines.
    """
    test = build_task(interactions, split, "test")
    two_tower = TwoTowerRecommender(item_vectors, TwoTowerConfig(epochs=1), seed=seed).fit(test)
    start = FrozenStart.of(two_tower, two_tower.model, interactions, split, "test")
    variants = [("top_k", {}), ("top_k", {"jit_compile": True}), ("top_k", {"mixed_precision": True}),
                ("lora", {}), ("full", {}), ("full", {"mixed_precision": True})]
    steps = PROFILE_PLAN[profile]["throughput_steps"]
    return [in_child_process(regime_throughput, start, regime_config(regime, profile, **change), steps)
            for regime, change in variants]


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
