"""Step 3's comparison on one window of the split: fair baselines, two-tower variants, ablations, blend.

Everything that is chosen is chosen on the validation window (models fitted
on the history before it): the fair baselines' settings, each two-tower
variant's epoch count, which text variant is "the best text model", and the
blend weight. The test window is then evaluated once per model and seed.

The two-tower variants answer "what does the text do?":

- ``text``: the item tower reads the title (the frozen encoder's vector
  through an adapter), plus the learned popularity prior;
- ``text + IDs``: the same plus an ID embedding per warm item;
- ``IDs only``: no text at all, the same prior: a classical model in neural
  clothing, and the fair ID baseline for the text variants;
- the best text variant **without its popularity prior**;
- ``text, encoder adapted``: the ``text`` variant's heads on title vectors
  from an encoder adapted to the shop (contrastive training on co-purchases,
  :mod:`recft_utils.models.encoder_adaptation`): the encoder's weights change,
  nothing else does.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import pandas as pd
from tqdm import tqdm

from recft_utils.evaluation import build_task, evaluate, summarise
from recft_utils.evaluation.rolling_origin import per_user_scores
from recft_utils.models.baselines import EASE, FrozenEncoderMean, Random
from recft_utils.models.blend import ScoreBlend, choose_weight
from recft_utils.models.encoder_adaptation import AdaptationConfig, adapt_item_vectors
from recft_utils.models.fair_baselines import EASE_L2, choices_table, tune_fair_baselines
from recft_utils.models.two_tower import TwoTowerConfig, TwoTowerRecommender

TEXT = "two-tower (text)"
TEXT_IDS = "two-tower (text + IDs)"
IDS_ONLY = "two-tower (IDs only)"
NO_PRIOR = "best text two-tower, without popularity prior"
BLEND = "blend: best text two-tower + EASE + recent popularity"
ADAPTED = "two-tower (text), encoder adapted on co-purchases"

VARIANTS = {TEXT: {}, TEXT_IDS: {"item_ids": True}, IDS_ONLY: {"item_ids": True, "text": False}}


@dataclass
class WindowComparison:
    """What one window produced: records (one per model, view, seed), per-customer scores, choices."""

    records: list[dict] = field(default_factory=list)
    scores: list[pd.DataFrame] = field(default_factory=list)
    choices: dict = field(default_factory=dict)

    def add(self, model, task, seed: int, window: int, seconds: float, bootstrap: int, extra=None, split=None):
        per_user = evaluate(model, task)
        for record in summarise(per_user, model.name, bootstrap=bootstrap, seed=seed, family=model.family):
            self.records.append({**record, "window": window, "seed": seed, "train_seconds": round(seconds, 2),
                                 **(extra or {}), **(split.as_dict() if split else {})})
        self.scores.append(per_user_scores(per_user, model.name, model.family, seed, window))

    def score_table(self) -> pd.DataFrame:
        return pd.concat(self.scores, ignore_index=True)


def _timed(build):
    started = time.perf_counter()
    model = build()
    return model, time.perf_counter() - started


def choose_variants(item_vectors, valid_task, base: TwoTowerConfig, seed: int) -> dict:
    """Each variant's settings and early-stopped epochs on the validation window, and the ablation.

    Returns ``{name: (config, epochs, valid_ndcg, fitted validation model)}``;
    the best text variant's popularity-free twin is added as :data:`NO_PRIOR` (one name in every
    window, whichever variant was best there)
    """
    chosen = {}

    def select(name, config):
        model = TwoTowerRecommender(item_vectors, config, seed=seed, valid_task=valid_task, name=name)
        epochs = model.select_epochs()
        best = max(point["valid_ndcg@10"] for point in model.validation_curve)
        valid_model = TwoTowerRecommender(item_vectors, config, seed=seed, name=name).start_from(
            valid_task, model.valid_model.get_weights())
        chosen[name] = (config, epochs, best, valid_model)

    for name, change in VARIANTS.items():
        select(name, replace(base, **change).checked())
    best_text = max((TEXT, TEXT_IDS), key=lambda name: chosen[name][2])
    select(NO_PRIOR, replace(chosen[best_text][0], popularity_prior=False))
    chosen["best text"] = best_text
    return chosen


def _classical(out: WindowComparison, fair, test, item_vectors, record) -> dict:
    """Random, EASE, the untrained encoder and the tuned fair baselines on the test window; the fitted fair ones."""
    for model, seconds in [_timed(lambda: Random(0).fit(test)), _timed(lambda: EASE(EASE_L2).fit(test)),
                           _timed(lambda: FrozenEncoderMean(item_vectors).fit(test))]:
        out.add(model, test, 0, seconds=seconds, **record)
    fitted = {}
    for baseline in fair:
        model, seconds = _timed(lambda: baseline.fit(test))
        fitted[baseline.name] = model
        out.add(model, test, 0, seconds=seconds, **record)
    return fitted


def _adapted_epochs(valid, titles, config: TwoTowerConfig, adaptation: AdaptationConfig, seed: int) -> dict:
    """Epochs of the ``text`` heads on an encoder adapted on the validation task's history (early stopping)."""
    adapted, _ = adapt_item_vectors(valid, titles, adaptation, seed=seed)
    chooser = TwoTowerRecommender(adapted, config, seed=seed, valid_task=valid, name=ADAPTED)
    epochs = chooser.select_epochs()
    return {"epochs": epochs, "config": asdict(adaptation),
            "valid_ndcg@10": max(point["valid_ndcg@10"] for point in chooser.validation_curve)}


def compare_on_window(interactions: pd.DataFrame, split, item_vectors: pd.DataFrame, titles: pd.Series,
                      seeds, base: TwoTowerConfig, window: int = 1, selection_seed: int = 42,
                      bootstrap: int = 1000, progress: bool = True,
                      adaptation: AdaptationConfig | None = None) -> WindowComparison:
    """Tune on the validation window, then evaluate every model of the comparison on the test window.

    With ``adaptation``, the encoder is also adapted (on each task's own
    history, once per seed) and the ``text`` variant's heads trained on its vectors.
    """
    valid, test = build_task(interactions, split, "valid"), build_task(interactions, split, "test")
    out = WindowComparison()
    record = dict(window=window, bootstrap=bootstrap, split=split)

    fair = tune_fair_baselines(valid, titles)
    out.choices["fair baselines"] = choices_table(fair).to_dict(orient="records")
    ease_popularity = _classical(out, fair, test, item_vectors, record)[fair[0].name]

    variants = choose_variants(item_vectors, valid, base, selection_seed)
    best_text = variants.pop("best text")
    weight, weights = choose_weight(variants[best_text][3], fair[0].build(valid), valid)
    out.choices.update(best_text=best_text, blend_weight=weight, blend_weights=weights.to_dict(orient="records"),
                       variants={name: {"epochs": epochs, "valid_ndcg@10": best, "config": asdict(config)}
                                 for name, (config, epochs, best, _) in variants.items()})
    text_config = variants[TEXT][0]
    if adaptation is not None:
        out.choices["adapted"] = _adapted_epochs(valid, titles, text_config, adaptation, selection_seed)
    for seed in tqdm(seeds, desc=f"window {window}: seeds", disable=not progress):
        for name, (config, epochs, _, _) in variants.items():
            model = TwoTowerRecommender(item_vectors, config, seed=seed, name=name).fit(test, epochs)
            out.add(model, test, seed, seconds=model.stats["train_seconds"], extra={"epochs": epochs}, **record)
            if name == best_text:
                blend = ScoreBlend(model, ease_popularity, weight, name=BLEND).fit(test)
                out.add(blend, test, seed, seconds=model.stats["train_seconds"], extra={"blend_weight": weight},
                        **record)
        if adaptation is not None:
            adapted, stats = adapt_item_vectors(test, titles, adaptation, seed=seed)
            epochs = out.choices["adapted"]["epochs"]
            model = TwoTowerRecommender(adapted, text_config, seed=seed, name=ADAPTED, family="text-fine-tuned")
            model.fit(test, epochs)
            out.add(model, test, seed, seconds=stats["seconds"] + model.stats["train_seconds"],
                    extra={"epochs": epochs}, **record)
    return out
