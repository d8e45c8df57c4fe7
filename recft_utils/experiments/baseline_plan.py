"""What step 1 fits and evaluates: every classical baseline, the fair ones too.

Apart from :mod:`recft_utils.experiments.training_plan` (steps 3's models) so that
step 1 never imports TensorFlow: these are numpy and scipy models, and a
notebook kernel saves the three seconds TensorFlow takes to import.
"""

from __future__ import annotations

import json
import time

import pandas as pd
from tqdm import tqdm

from recft_utils.datasets.preparation import catalogue_titles
from recft_utils.evaluation import TemporalSplit, build_task, evaluate, summarise
from recft_utils.models.baselines import classical_baselines
from recft_utils.models.fair_baselines import tune_fair_baselines
from recft_utils.models.item_to_item import ItemModelChoice, choose_item_model


def baseline_records(
    interactions: pd.DataFrame,
    split: TemporalSplit,
    window: str = "test",
    k: int = 10,
    bootstrap: int = 1000,
    seed: int = 0,
    progress: bool = True,
    item_model: ItemModelChoice | None = None,
) -> list[dict]:
    """Fit and evaluate every classical baseline, the fair ones too; one record per (model, view).

    ``item_model`` decides the item-to-item models (EASE or ItemKNN, see
    :func:`~recft_utils.models.item_to_item.choose_item_model`, which picks it for ``window``'s
    catalogue when not given) and so the classical bar.

    The fair baselines (:mod:`recft_utils.models.fair_baselines`) are tuned
    on the validation window first, then fitted on ``window``'s history
    (with ``window="valid"`` they are tuned and scored on the same window:
    optimistic, and said so by their ``tuned_on`` field). Each record
    carries the split dates and the fit/evaluation seconds, so a JSON file
    of records is self-describing.
    """
    task = build_task(interactions, split, window)
    item_model = item_model or choose_item_model(len(task.items))
    started = time.perf_counter()
    fair = tune_fair_baselines(
        build_task(interactions, split, "valid"), catalogue_titles(interactions), item_model=item_model
    )
    tuning_seconds = (time.perf_counter() - started) / len(fair)
    fits = [(model.fit, 0.0, {}) for model in classical_baselines(seed=seed, item_model=item_model)]
    # "settings" (JSON) lets step 3 rebuild step 1's bar without tuning it again
    fits += [
        (
            baseline.fit,
            tuning_seconds,
            {
                "tuned_on": f"valid ({baseline.view})",
                "chosen": baseline.settings_text,
                "settings": json.dumps(baseline.settings),
            },
        )
        for baseline in fair
    ]
    records = []
    for fit, extra_seconds, extra in tqdm(fits, desc=f"baselines ({window})", disable=not progress):
        started = time.perf_counter()
        fitted = fit(task)
        per_user = evaluate(fitted, task, k=k)
        seconds = time.perf_counter() - started + extra_seconds
        for record in summarise(per_user, fitted.name, k=k, bootstrap=bootstrap, seed=seed, family=fitted.family):
            records.append({**record, "window": window, "train_seconds": round(seconds, 2), **extra, **split.as_dict()})
    return records
