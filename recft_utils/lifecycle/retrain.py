"""``recft retrain --as-of DATE``: train on the data before a date, add the model to a registry, decide.

A version folder holds the exported model (what the service loads), the
Keras model and ``training.json`` (what the next retrain warm-starts from).
Two challengers train on everything before ``as_of - valid_days``, one from
scratch and one warm-started from the champion; on the ``valid_days`` before
``as_of`` both are compared with the champion carried over
(:func:`~recft_utils.lifecycle.promotion.choose_challenger`: Holm-corrected
tests, the better passing one promoted). The chosen one (the better-scoring
one when the champion stays) is exported as of ``as_of`` (its catalogue and
popularity table up to that day). The decision is recorded in the registry; a
service watching it reloads a promoted model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import pandas as pd

from recft_utils.artefacts import atomic_directory, write_json
from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task
from recft_utils.evaluation.split import TemporalSplit, day_in_data
from recft_utils.experiments.serving_choice import served_blend
from recft_utils.lifecycle.challengers import judge_challengers, train_challengers
from recft_utils.lifecycle.registry import VERSION_MODEL, VERSION_TRAINING, ModelRegistry
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_files import load_model, save_model
from recft_utils.models.two_tower_recommender import TwoTowerRecommender
from recft_utils.run import Run


def _windows(interactions: pd.DataFrame, as_of: pd.Timestamp, valid_days: int) -> TemporalSplit:
    first, last = interactions["timestamp"].min(), interactions["timestamp"].max()
    if not first + pd.Timedelta(days=valid_days + 30) <= as_of <= last.normalize() + pd.Timedelta(days=1):
        raise ParameterError(
            f"--as-of {as_of.date()} must leave at least {valid_days + 30} days of history and "
            f"lie within the data ({first.date()} to {last.date()})."
        )
    return TemporalSplit(as_of - pd.Timedelta(days=valid_days), as_of, last + pd.Timedelta(seconds=1))


def load_version(registry: ModelRegistry, version: str, interactions, item_vectors) -> TwoTowerRecommender:
    """A registry version as a recommender fitted on the task it was trained on (for warm starts)."""
    training = registry.training(version)
    config = TwoTowerConfig(**training["config"])
    split = _windows(interactions, pd.Timestamp(training["as_of"]), training["valid_days"])
    task = build_task(interactions, split, "valid")
    return TwoTowerRecommender(item_vectors, config, seed=training["seed"]).start_from(
        task, load_model(registry.model_file(version)).get_weights()
    )


def _classical(task, blend: dict):
    """EASE + recent popularity with step 3's settings, refitted on ``task`` (closed form: no training)."""
    from recft_utils.models.fair_baselines import classical_with_popularity

    return classical_with_popularity(task, blend["classical"])


def as_served(model: TwoTowerRecommender, task, blend: dict | None):
    """``model`` as step 4 serves it: alone, or (``blend``: see :func:`served_blend`) blended with
    EASE + recent popularity refitted on ``task`` (at weight 0, that classical model alone)."""
    if blend is None:
        return model
    from recft_utils.models.blend import ScoreBlend

    classical = _classical(task, blend)
    return classical if blend["weight"] == 0 else ScoreBlend(model, classical, blend["weight"]).fit(task)


def retrain(
    interactions: pd.DataFrame,
    item_vectors: pd.DataFrame,
    config: TwoTowerConfig,
    registry_root,
    as_of: str,
    epochs: int,
    warm_epochs: int | None = None,
    valid_days: int = 14,
    seed: int = 0,
    alpha: float = 0.05,
    titles: pd.Series | None = None,
    blend: dict | None = None,
) -> dict:
    """Train, export a new version atomically, compare with the champion, record the decision; returns it.

    With ``blend`` (:func:`served_blend`) the two-tower is judged and exported inside the blend step 4
    serves, its classical part refitted on the same data (it has no weights to warm-start).
    """
    from recft_utils.serving.export import BlendPart, export_recommender

    registry = ModelRegistry(registry_root)
    as_of = day_in_data(interactions, as_of, "--as-of")  # a date or "-30d" (days back from the data's end)
    split = _windows(interactions, as_of, valid_days)
    valid, current = build_task(interactions, split, "valid"), build_task(interactions, split, "test")
    champion = registry.champion()
    previous = load_version(registry, champion, interactions, item_vectors) if champion else None
    challengers = train_challengers(item_vectors, config, valid, previous, epochs, warm_epochs or epochs, seed)
    decision = None
    if previous is not None:
        decision = judge_challengers(previous, challengers, valid, alpha, lambda model: as_served(model, valid, blend))
    # the version is the promoted challenger or, when the champion stays, the better-scoring one (for the record)
    kind = "scratch" if decision is None else decision["challenger"] or decision["best"]
    challenger, n, seconds = challengers[kind].model, challengers[kind].epochs, challengers[kind].seconds
    train_seconds = {name: c.seconds for name, c in challengers.items()}
    version = f"{as_of:%Y%m%d}-{dt.datetime.now():%H%M%S}"
    with atomic_directory(registry.new_version_dir(version)) as folder:  # the version appears complete or not at all
        exported = challenger.like().start_from(current, challenger)
        part = None if blend is None else BlendPart.of(_classical(current, blend), blend["weight"], blend["model"])
        export_recommender(
            exported.model,
            current,
            folder,
            titles,
            version=version,
            max_history=config.max_history,
            source={"as_of": str(as_of.date()), "champion": champion},
            blend=part,
        )
        save_model(challenger.model, folder / VERSION_MODEL)
        write_json(
            folder / VERSION_TRAINING,
            {
                "as_of": str(as_of.date()),
                "valid_days": valid_days,
                "seed": seed,
                "config": asdict(config),
                "epochs": n,
                "kind": kind,
                "warm_from": champion if kind == "warm start" else None,
                "train_seconds": seconds,
                "challengers_train_seconds": train_seconds,
            },
        )
    if decision is None:
        entry = registry.promote(version, "first model of the registry")
    else:
        record = registry.promote if decision["decision"] == "promote" else registry.keep
        entry = record(version, decision["reason"], decision)
    return {**entry, "train_seconds": seconds, "epochs": n, "kind": kind}


def retrain_run(
    run_dir, as_of: str, registry_root=None, epochs: int | None = None, warm_epochs: int | None = None, **options
) -> dict:
    """:func:`retrain` with a run's data (step 2), text vectors and settings (step 3); the registry
    defaults to ``run_dir/06_iteration/registry``."""
    run = Run(run_dir)
    saved = run.model_config()
    config = TwoTowerConfig.from_saved(saved)
    registry_root = registry_root or run.path("06_iteration", Run.REGISTRY)
    interactions, vectors, titles = run.interactions(), run.item_vectors(), run.titles()
    blend = served_blend(run.read("03b_fine_tuning", Run.SERVED_CHOICE))
    return retrain(
        interactions,
        vectors,
        config,
        registry_root,
        as_of,
        epochs or saved["epochs"],
        warm_epochs,
        titles=titles,
        blend=blend,
        **options,
    )
