"""Train and evaluate the step-3 models on the test window, several seeds each.

The training itself is :mod:`recft_utils.experiments.training_plan`'s, the code
path notebook 03 uses; this module adds the profile's full budget (all
seeds, every regime trained), child processes for the fine-tuning runs, the
ablation and the throughput table. Records carry the keys described there.

Settings are chosen on the validation window only (the search, the epoch
counts); the test window is evaluated once per model and seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from recft_utils.benchmark.processes import in_child_process
from recft_utils.config import get_profile
from recft_utils.evaluation import build_task
from recft_utils.evaluation.comparison import comparison_table, seed_summary
from recft_utils.experiments.training_plan import (
    BLEND_NAME,
    BLEND_REGIME,
    REGIME_SETTINGS,
    article_model_records,
    blend_records,
    evaluation_records,
    fine_tuned_records,
    regime_config,
    two_tower_records,
)
from recft_utils.machine import peak_rss_mb
from recft_utils.models.baselines import FrozenEncoderMean
from recft_utils.models.blend import choose_weight
from recft_utils.models.fair_baselines import tune_classical_bar
from recft_utils.models.fine_tuned_recommender import FineTunedRecommender
from recft_utils.models.fine_tuning import REGIME_LABELS, FineTuneConfig
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender

__all__ = [
    "BLEND_NAME",
    "BLEND_REGIME",
    "REGIME_SETTINGS",
    "FrozenStart",
    "ablation_records",
    "comparison_table",
    "evaluation_records",
    "model_records",
    "regime_config",
    "seed_summary",
    "throughput_records",
]


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
        return cls(
            interactions,
            split,
            window,
            recommender.item_vectors,
            recommender.config,
            recommender.seed,
            model.get_weights(),
            recommender.stats.get("train_seconds", 0.0),
        )

    def fine_tuner(self, settings: FineTuneConfig) -> FineTunedRecommender:
        """The fine-tuner of ``settings``, starting from the restored frozen model (fitted on its task)."""
        from recft_utils.datasets.preparation import catalogue_titles
        from recft_utils.text import SentenceEncoder

        task = build_task(self.interactions, self.split, self.window)
        frozen = TwoTowerRecommender(self.item_vectors, self.config, seed=self.seed).start_from(task, self.weights)
        return FineTunedRecommender(
            frozen,
            catalogue_titles(self.interactions),
            SentenceEncoder.load,
            settings,
            valid_task=task if self.window == "valid" else None,
        )


def select_regime_epochs(start: FrozenStart, settings: FineTuneConfig) -> int:
    """Early stopping on the validation window (``start`` fitted on the validation task's history)."""
    tuner = start.fine_tuner(settings)
    return tuner.select_epochs(tuner.frozen.model)


def regime_test_records(start: FrozenStart, settings: FineTuneConfig, epochs: int, k: int, bootstrap: int) -> list:
    """Fine-tune for ``epochs`` on the test task's history and evaluate on its window."""
    tuner = start.fine_tuner(settings)
    return fine_tuned_records(tuner, tuner.frozen.task, start.split, epochs, start.train_seconds, k, bootstrap)


def regime_throughput(start: FrozenStart, settings: FineTuneConfig, steps: int) -> dict:
    """Training examples/s of one regime over ``steps`` steps, with the process's peak memory."""
    tuner = start.fine_tuner(settings)
    rate = tuner.throughput(tuner.frozen.task, tuner.frozen.model, steps=steps)
    return {
        "regime": REGIME_LABELS[settings.regime],
        "xla": settings.jit_compile,
        "bf16": settings.mixed_precision,
        "batch_size": settings.batch_size,
        "negatives": settings.negatives,
        "examples_per_second": round(rate, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def model_records(
    interactions: pd.DataFrame,
    split,
    item_vectors: pd.DataFrame,
    profile: str = "workshop",
    k: int = 10,
    bootstrap: int = 1000,
    strategy: str = "default",
    selection_seed: int = 42,
    progress: bool = True,
    search_dir=None,
    regimes=("top_k", "lora", "full"),
    chosen: dict | None = None,
) -> list[dict]:
    """The frozen encoder, the methodology's ID model, the two-tower model and each fine-tuning regime.

    ``selection_seed`` seeds the validation runs that choose settings and epoch
    counts, as notebook 03 does with its ``seed`` parameter; with ``search_dir``
    a KerasTuner search of the profile's budget picks the two-tower settings first.
    ``chosen``, when given, receives the settings and epoch counts chosen on the validation window.
    Each fine-tuning run happens in its own child process (see :mod:`.processes`).
    """
    from tqdm import tqdm

    plan = get_profile(profile).training
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
        tuned[regime] = (
            in_child_process(select_regime_epochs, valid_start, settings) if settings.epochs > 1 else settings.epochs
        )
    started = time.perf_counter()
    classical = tune_classical_bar(valid)  # step 1's fair bar, tuned on validation
    classical_on_test = classical.fit(test)
    classical_seconds = time.perf_counter() - started
    blend_weight, _ = choose_weight(
        TwoTowerRecommender(item_vectors, config).start_from(valid, valid_start.weights), classical.fit(valid), valid
    )
    if chosen is not None:
        chosen.update(config=config, epochs=epochs, regime_epochs=dict(tuned), blend_weight=blend_weight)

    seeds = plan["seeds"]
    records += article_model_records(test, split, seeds, plan["article_model_epochs"], k, bootstrap)
    two_towers, frozen_records = two_tower_records(
        item_vectors, config, epochs, test, split, seeds, strategy, k, bootstrap
    )
    records += frozen_records + blend_records(
        two_towers, classical_on_test, classical_seconds, blend_weight, test, split, k, bootstrap
    )
    for seed in tqdm(seeds, desc="fine-tuning seeds", disable=not progress):
        start = FrozenStart.of(two_towers[seed], two_towers[seed].model, interactions, split, "test")
        for regime, regime_epochs in tuned.items():
            records += in_child_process(
                regime_test_records, start, regime_config(regime, profile), regime_epochs, k, bootstrap
            )
    return records


def choose_two_tower(item_vectors, valid, plan, strategy, seed, search_dir=None):
    """Settings and epoch count of the two-tower model, from the validation window only.

    Returns the recommender trained on the validation task's history (the
    starting point of the fine-tuning regimes' epoch selection), its settings and epochs.
    """
    base = TwoTowerConfig(epochs=plan["two_tower_epochs"])
    if search_dir is not None:
        from recft_utils.experiments.tuning import search

        result = search(item_vectors, valid, base, plan["search_trials"], search_dir, seed=seed)
        return result.model, result.config, result.epochs
    chooser = TwoTowerRecommender(item_vectors, base, seed=seed, strategy=strategy, valid_task=valid)
    return chooser, base, chooser.select_epochs()


def ablation_records(
    interactions, split, item_vectors, config: TwoTowerConfig, profile: str = "workshop", seed: int = 42
) -> list[dict]:
    """Augmented titles and FGM against the chosen two-tower settings, validation window, the profile's seeds.

    The augmented titles are made as notebook 02 makes them (same seed, same
    number of items), then encoded by the pretrained model.
    """
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.experiments.tuning import ablation
    from recft_utils.text import SentenceEncoder, augmentation
    from recft_utils.text import encoder as text_encoder
    from recft_utils.text.catalogue_vectors import encode_augmented_titles

    encoder = SentenceEncoder.load()
    synonyms = augmentation.SynonymTable.from_token_embeddings(
        encoder.tokenizer, text_encoder.token_embedding_matrix(encoder.backbone)
    )
    titles = catalogue_titles(interactions)
    items = pd.DataFrame({"item_id": titles.index, "item_text": titles.to_numpy()})
    augmented = augmentation.augment_titles(items, synonyms, seed=seed, n_items=get_profile(profile).augment_titles)
    valid = build_task(interactions, split, "valid")
    table = ablation(
        item_vectors,
        valid,
        config,
        get_profile(profile).training["seeds"],
        augmented_vectors=encode_augmented_titles(augmented, encoder),
    )
    return table.assign(peak_rss_mb=round(peak_rss_mb(), 1)).to_dict(orient="records")


def throughput_records(interactions, split, item_vectors, profile: str = "workshop", seed: int = 0) -> list[dict]:
    """Training examples/s of each regime at the same batch size, and what XLA and bf16 change.

    Measured one after the other on the test task's history, each in its own
    child process: compare the ratios, not the absolute numbers, across machines.
    """
    test = build_task(interactions, split, "test")
    two_tower = TwoTowerRecommender(item_vectors, TwoTowerConfig(epochs=1), seed=seed).fit(test)
    start = FrozenStart.of(two_tower, two_tower.model, interactions, split, "test")
    variants = [
        ("top_k", {}),
        ("top_k", {"jit_compile": True}),
        ("top_k", {"mixed_precision": True}),
        ("lora", {}),
        ("full", {}),
        ("full", {"mixed_precision": True}),
    ]
    steps = get_profile(profile).training["throughput_steps"]
    return [
        in_child_process(regime_throughput, start, regime_config(regime, profile, **change), steps)
        for regime, change in variants
    ]
