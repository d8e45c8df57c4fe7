"""Experiment tracking with MLflow: each run's parameters, metrics, curves and artefact paths.

Runs go to a local SQLite store (``runs/mlflow.db`` in the checkout unless
``RECFT_TRACKING_URI`` names another store), so two runs can be compared
from Python (:func:`compare_runs`) or in MLflow's UI
(``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db`` with the full
``mlflow`` package). Training curves also go to TensorBoard event files
(``TwoTowerRecommender(log_dir=...)``), read by ``tensorboard --logdir``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from recft_utils.artefacts import display_path
from recft_utils.config import project_root

EXPERIMENT = "recft"


def default_store() -> Path:
    """The SQLite store ``runs/mlflow.db`` of the checkout (of the working directory outside one)."""
    return project_root() / "runs" / "mlflow.db"


def tracking_uri() -> str:
    """``RECFT_TRACKING_URI``, or :func:`default_store`."""
    uri = os.environ.get("RECFT_TRACKING_URI")
    if uri:
        return uri
    store = default_store()
    store.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store}"


def _mlflow():
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its store-creation messages would alarm a learner
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def metric_name(name: str) -> str:
    """MLflow's name for a metric: it refuses "@", so ``valid_ndcg@10`` is stored as ``valid_ndcg_at_10``."""
    return name.replace("@", "_at_")


def log_run(
    name: str,
    params: dict,
    metrics: dict,
    curve: list[dict] | None = None,
    artefacts: dict | None = None,
    tags: dict | None = None,
) -> str:
    """Record one run; returns its id.

    ``curve``: one dict per epoch with an ``epoch`` key and metric values;
    ``artefacts``: name → path of files the run wrote (recorded as tags, not copied).
    """
    mlflow = _mlflow()
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params(params)
        mlflow.log_metrics({metric_name(k): v for k, v in metrics.items()})
        for point in curve or []:
            mlflow.log_metrics({metric_name(k): v for k, v in point.items() if k != "epoch"}, step=int(point["epoch"]))
        mlflow.set_tags({**(tags or {}), **{f"artefact.{k}": display_path(v) for k, v in (artefacts or {}).items()}})
        return run.info.run_id


def compare_runs(run_ids: list[str]) -> pd.DataFrame:
    """Parameters, metrics and artefact paths of some runs side by side (one column per run),
    with a ``differs`` column that marks the rows where they disagree."""
    from mlflow.tracking import MlflowClient

    _mlflow()
    columns = {}
    for run_id in run_ids:
        run = MlflowClient().get_run(run_id)
        columns[run.info.run_name] = pd.Series(
            {
                **{f"params.{k}": v for k, v in run.data.params.items()},
                **{f"metrics.{k}": v for k, v in run.data.metrics.items()},
                **{f"tags.{k}": v for k, v in run.data.tags.items() if k.startswith("artefact.")},
            }
        )
    table = pd.DataFrame(columns).sort_index()
    table["differs"] = table.astype(str).nunique(axis=1) > 1
    return table.rename_axis("recorded").rename_axis(columns="run")


def metric_history(run_id: str, metric: str) -> pd.DataFrame:
    """A run's values of ``metric`` by step (epoch)."""
    from mlflow.tracking import MlflowClient

    _mlflow()
    history = MlflowClient().get_metric_history(run_id, metric_name(metric))
    return pd.DataFrame({"epoch": [m.step for m in history], metric: [m.value for m in history]})


def tracked_validation_run(
    item_vectors: pd.DataFrame, valid_task, config, label: str, log_dir, seed: int = 0, tags: dict | None = None
) -> str:
    """Train a two-tower model with early stopping on ``valid_task``, curves to TensorBoard in ``log_dir``,
    and record the run (settings, best validation NDCG@10, its epoch, time, curve, log folder) in MLflow."""
    import time
    from dataclasses import asdict

    from recft_utils.models.two_tower_recommender import TwoTowerRecommender

    started = time.perf_counter()
    model = TwoTowerRecommender(item_vectors, config, seed=seed, valid_task=valid_task, log_dir=log_dir)
    best_epoch = model.select_epochs()
    best = max(point["valid_ndcg@10"] for point in model.validation_curve)
    return log_run(
        label,
        {**asdict(config), "seed": seed},
        {"best_valid_ndcg@10": best, "best_epoch": best_epoch, "train_seconds": time.perf_counter() - started},
        model.validation_curve,
        {"tensorboard": log_dir},
        {"window": "valid", **(tags or {})},
    )


def setting_effect_note(
    compared: pd.DataFrame, base: str, changed: str, reseeded: str, metric: str = "metrics.best_valid_ndcg_at_10"
) -> str:
    """What a one-setting comparison shows (``compare_runs``' table): the changed run's difference from
    ``base`` against the difference between ``base`` and the same settings with another seed (``reseeded``)."""
    value = compared.loc[metric].astype(float)
    effect, chance = value[changed] - value[base], value[reseeded] - value[base]
    verdict = (
        "larger than what another seed changes: a first sign that the setting matters, to confirm "
        "with several seeds of each"
        if abs(effect) > abs(chance)
        else "no larger than what another seed changes: these runs cannot tell the setting from luck; "
        "several seeds of each would"
    )
    return (
        f"{changed}: best validation NDCG@10 {effect:+.4f} against {base}; {reseeded}: {chance:+.4f}. "
        f"The setting's effect is {verdict}."
    )


def changed_config(config, name: str, value):
    """``config`` with one setting changed, the value cast to that setting's type (e.g. 64.0 → 64 for ``dim``)."""
    from dataclasses import asdict

    from recft_utils.models.two_tower import config_with

    current = asdict(config).get(name)
    return config_with(config, **{name: type(current)(value) if current is not None else value})
