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

Text is not the same as a language model, so every language-model model has a
**lexical twin** (:data:`TWINS`): the same model, tuned the same way, with
word overlap in place of the encoder. The two-tower variants run on TF-IDF
title vectors reduced to the encoder's width
(:func:`~recft_utils.text.lexical.lexical_item_vectors`), the blend on the
best of those, and the encoder's own title models (the mean of the history's
vectors, title neighbours' popularity and its personalised variant by the
encoder's cosine) against the same models by TF-IDF.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import pandas as pd
from tqdm import tqdm

from recft_utils.evaluation import build_task, evaluate, summarise
from recft_utils.evaluation.rolling_origin import item_gain_scores, per_user_scores
from recft_utils.models.baselines import FrozenEncoderMean, Random, TitleProfile
from recft_utils.models.blend import ScoreBlend, choose_weight
from recft_utils.models.encoder_adaptation import AdaptationConfig, adapt_item_vectors
from recft_utils.models.fair_baselines import (
    TITLE_NEIGHBOURS,
    TITLE_PROFILE_BLEND,
    choices_table,
    tune_fair_baselines,
    tune_title_models,
)
from recft_utils.models.item_to_item import EASE, EASE_L2
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender
from recft_utils.text.lexical import lexical_item_vectors

TEXT = "two-tower (text)"
TEXT_IDS = "two-tower (text + IDs)"
IDS_ONLY = "two-tower (IDs only)"
NO_PRIOR = "best text two-tower, without popularity prior"
BLEND = "blend: best text two-tower + EASE + recent popularity"
ADAPTED = "two-tower (text), encoder adapted on co-purchases"
LEXICAL_TEXT = "two-tower (words)"
LEXICAL_TEXT_IDS = "two-tower (words + IDs)"
LEXICAL_BLEND = "blend: best words two-tower + EASE + recent popularity"
ENCODER_MEAN = FrozenEncoderMean.name
WORDS_MEAN = "customer's titles vs item title (TF-IDF)"
ENCODER_NEIGHBOURS = "title neighbours' popularity (encoder)"
ENCODER_PROFILE_BLEND = "customer titles + title neighbours (encoder)"

VARIANTS = {TEXT: {}, TEXT_IDS: {"item_ids": True}, IDS_ONLY: {"item_ids": True, "text": False}}
# the same two-tower variants on word-overlap vectors: the language model's lexical twins
LEXICAL_VARIANTS = {LEXICAL_TEXT: {}, LEXICAL_TEXT_IDS: {"item_ids": True}}
# each language-model model and the record of its lexical twin (same model, words for the encoder)
TWINS = {
    TEXT: LEXICAL_TEXT,
    TEXT_IDS: LEXICAL_TEXT_IDS,
    BLEND: LEXICAL_BLEND,
    ADAPTED: LEXICAL_TEXT,
    ENCODER_MEAN: WORDS_MEAN,
    ENCODER_NEIGHBOURS: TITLE_NEIGHBOURS,
    ENCODER_PROFILE_BLEND: TITLE_PROFILE_BLEND,
}


@dataclass
class WindowComparison:
    """What one window produced: records (one per model, view, seed), per-customer scores, choices."""

    records: list[dict] = field(default_factory=list)
    scores: list[pd.DataFrame] = field(default_factory=list)
    gains: list[pd.DataFrame] = field(default_factory=list)
    choices: dict = field(default_factory=dict)

    def add(self, model, task, seed: int, window: int, seconds: float, bootstrap: int, extra=None, split=None):
        per_user = evaluate(model, task)
        twin = {"twin": TWINS[model.name]} if model.name in TWINS else {}
        for record in summarise(per_user, model.name, bootstrap=bootstrap, seed=seed, family=model.family):
            self.records.append(
                {
                    **record,
                    **twin,
                    "window": window,
                    "seed": seed,
                    "train_seconds": round(seconds, 2),
                    **(extra or {}),
                    **(split.as_dict() if split else {}),
                }
            )
        self.scores.append(per_user_scores(per_user, model.name, model.family, seed, window))
        self.gains.append(item_gain_scores(per_user, model.name, model.family, seed, window))

    def score_table(self) -> pd.DataFrame:
        return pd.concat(self.scores, ignore_index=True)

    def gain_table(self) -> pd.DataFrame:
        """The cold view's NDCG split by product (see
        :func:`~recft_utils.evaluation.rolling_origin.item_gain_scores`)."""
        return pd.concat(self.gains, ignore_index=True)


def _timed(build):
    started = time.perf_counter()
    model = build()
    return model, time.perf_counter() - started


def choose_variants(
    item_vectors,
    valid_task,
    base: TwoTowerConfig,
    seed: int,
    variants=None,
    family: str | None = None,
    ablation: bool = True,
) -> dict:
    """Each variant's settings and early-stopped epochs on the validation window, and the ablation.

    Returns ``{name: (config, epochs, valid_ndcg, fitted validation model)}``
    for ``variants`` (default :data:`VARIANTS`) on ``item_vectors``; with
    ``ablation``, the best text variant's popularity-free twin is added as
    :data:`NO_PRIOR` (one name in every window, whichever variant was best
    there), and ``chosen["best text"]`` names the best text variant (None without one).
    """
    variants = VARIANTS if variants is None else variants
    chosen = {}

    def select(name, config):
        model = TwoTowerRecommender(item_vectors, config, seed=seed, valid_task=valid_task, name=name, family=family)
        epochs = model.select_epochs()
        best = max(point["valid_ndcg@10"] for point in model.validation_curve)
        valid_model = TwoTowerRecommender(item_vectors, config, seed=seed, name=name, family=family).start_from(
            valid_task, model.valid_model.get_weights()
        )
        chosen[name] = (config, epochs, best, valid_model)

    for name, change in variants.items():
        select(name, replace(base, **change).checked())
    text_variants = [name for name in variants if replace(base, **variants[name]).text]
    best_text = max(text_variants, key=lambda name: chosen[name][2]) if text_variants else None
    if ablation and best_text:
        select(NO_PRIOR, replace(chosen[best_text][0], popularity_prior=False))
    chosen["best text"] = best_text
    return chosen


def _classical(out: WindowComparison, fair, test, item_vectors, titles, record) -> dict:
    """Random, EASE, the untrained encoder and its lexical twin, and the tuned fair baselines on the test
    window; the fitted fair ones."""
    for model, seconds in [
        _timed(lambda: Random(0).fit(test)),
        _timed(lambda: EASE(EASE_L2).fit(test)),
        _timed(lambda: FrozenEncoderMean(item_vectors).fit(test)),
        _timed(lambda: TitleProfile(titles, "tfidf").fit(test)),
    ]:
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
    return {
        "epochs": epochs,
        "config": asdict(adaptation),
        "valid_ndcg@10": max(point["valid_ndcg@10"] for point in chooser.validation_curve),
    }


def compare_on_window(
    interactions: pd.DataFrame,
    split,
    item_vectors: pd.DataFrame,
    titles: pd.Series,
    seeds,
    base: TwoTowerConfig,
    window: int = 1,
    selection_seed: int = 42,
    bootstrap: int = 1000,
    progress: bool = True,
    adaptation: AdaptationConfig | None = None,
) -> WindowComparison:
    """Tune on the validation window, then evaluate every model of the comparison on the test window.

    With ``adaptation``, the encoder is also adapted (on each task's own
    history, once per seed) and the ``text`` variant's heads trained on its vectors.
    """
    valid, test = build_task(interactions, split, "valid"), build_task(interactions, split, "test")
    out = WindowComparison()
    record = dict(window=window, bootstrap=bootstrap, split=split)

    fair = tune_fair_baselines(valid, titles)
    encoder_titles = tune_title_models(valid, titles, item_vectors, ENCODER_NEIGHBOURS, ENCODER_PROFILE_BLEND)
    out.choices["fair baselines"] = choices_table(fair).to_dict(orient="records")
    out.choices["encoder title models"] = choices_table(encoder_titles).to_dict(orient="records")
    ease_popularity = _classical(out, fair + encoder_titles, test, item_vectors, titles, record)[fair[0].name]

    words = lexical_item_vectors(titles, dim=item_vectors.shape[1], seed=selection_seed)
    variants = choose_variants(item_vectors, valid, base, selection_seed)
    lexical = choose_variants(words, valid, base, selection_seed, LEXICAL_VARIANTS, family="lexical", ablation=False)
    best_text, best_words = variants.pop("best text"), lexical.pop("best text")
    weight, weights = choose_weight(variants[best_text][3], fair[0].build(valid), valid)
    words_weight, _ = choose_weight(lexical[best_words][3], fair[0].build(valid), valid)
    out.choices.update(
        best_text=best_text,
        blend_weight=weight,
        blend_weights=weights.to_dict(orient="records"),
        best_words=best_words,
        words_blend_weight=words_weight,
        variants={
            name: {"epochs": epochs, "valid_ndcg@10": best, "config": asdict(config)}
            for name, (config, epochs, best, _) in {**variants, **lexical}.items()
        },
    )
    text_config = variants[TEXT][0]
    if adaptation is not None:
        out.choices["adapted"] = _adapted_epochs(valid, titles, text_config, adaptation, selection_seed)
    blends = {best_text: (BLEND, weight), best_words: (LEXICAL_BLEND, words_weight)}
    for seed in tqdm(seeds, desc=f"window {window}: seeds", disable=not progress):
        for name, (config, epochs, _, _) in {**variants, **lexical}.items():
            vectors, family = (words, "lexical") if name in lexical else (item_vectors, None)
            model = TwoTowerRecommender(vectors, config, seed=seed, name=name, family=family).fit(test, epochs)
            out.add(model, test, seed, seconds=model.stats["train_seconds"], extra={"epochs": epochs}, **record)
            if name in blends:
                blend_name, blend_weight = blends[name]
                blend = ScoreBlend(model, ease_popularity, blend_weight, name=blend_name).fit(test)
                out.add(
                    blend,
                    test,
                    seed,
                    seconds=model.stats["train_seconds"],
                    extra={"blend_weight": blend_weight},
                    **record,
                )
        if adaptation is not None:
            adapted, stats = adapt_item_vectors(test, titles, adaptation, seed=seed)
            epochs = out.choices["adapted"]["epochs"]
            model = TwoTowerRecommender(adapted, text_config, seed=seed, name=ADAPTED, family="text-fine-tuned")
            model.fit(test, epochs)
            out.add(
                model,
                test,
                seed,
                seconds=stats["seconds"] + model.stats["train_seconds"],
                extra={"epochs": epochs},
                **record,
            )
    return out
