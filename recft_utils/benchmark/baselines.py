"""The classical baselines on one window of the temporal split, as records."""

from __future__ import annotations

import time

import pandas as pd
from tqdm import tqdm

from recft_utils.evaluation import TemporalSplit, build_task, evaluate, summarise
from recft_utils.models import classical_baselines


def baseline_records(interactions: pd.DataFrame, split: TemporalSplit, window: str = "test",
                     k: int = 10, bootstrap: int = 1000, seed: int = 0,
                     progress: bool = True) -> list[dict]:
    """Fit and evaluate every classical baseline; one record per (model, view).

    Each record carries the split dates and the fit/evaluation seconds, so a
    JSON file of records is self-describing.
    """
    task = build_task(interactions, split, window)
    records = []
    models = classical_baselines(seed=seed)
    for model in tqdm(models, desc=f"baselines ({window})", disable=not progress):
        started = time.perf_counter()
        model.fit(task)
        per_user = evaluate(model, task, k=k)
        seconds = time.perf_counter() - started
        for record in summarise(per_user, model.name, k=k, bootstrap=bootstrap, seed=seed):
            records.append({**record, "window": window, "train_seconds": round(seconds, 2),
                            **split.as_dict()})
    return records


def records_table(records: list[dict], k: int = 10, digits: int = 3) -> pd.DataFrame:
    """Models as rows, ``ndcg@k`` per view as columns (rounded), like the guide's table."""
    frame = pd.DataFrame(records)
    table = frame.pivot_table(index="model", columns="view", values=f"ndcg@{k}", sort=False)
    table = table.reindex(columns=[v for v in ("all", "discovery", "cold") if v in table.columns])
    table.columns = [f"NDCG@{k} {v}" for v in table.columns]
    return table.round(digits)
