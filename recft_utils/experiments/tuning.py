"""Choosing settings on the validation window only: a KerasTuner search and an ablation.

Each trial trains the two-tower model on the history before the validation
window, with early stopping on that window's discovery NDCG@10, and reports
the best value it reached. The test window is never looked at, so the test
figures of the chosen settings stay honest.

The first trial runs the defaults (KerasTuner's random search starts from
each hyper-parameter's default), so the search can only match or improve on
the model trained without it. The budget is a number of trials and a cap on
epochs per trial: a tiny one in the ``workshop`` profile, a real one in ``full``.

:func:`ablation` then asks whether the methodology's two robustness ideas help the
chosen model: training on augmented titles, and FGM adversarial training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.models.two_tower import TwoTowerConfig, config_with
from recft_utils.models.two_tower_recommender import TwoTowerRecommender

OBJECTIVE = "valid_ndcg@10"


def search_space(hp, base: TwoTowerConfig) -> TwoTowerConfig:
    """The searched settings, declared on ``hp`` with ``base``'s values as defaults.

    Learning rate, dropout and L2 regularise and pace training; ``dim`` is the
    size of the towers' shared space, the frozen regime's key size.
    """
    return config_with(
        base,
        learning_rate=hp.Float("learning_rate", 1e-3, 1e-2, sampling="log", default=base.learning_rate),
        dropout=hp.Float("dropout", 0.0, 0.5, step=0.1, default=base.dropout),
        l2=hp.Float("l2", 1e-8, 1e-4, sampling="log", default=base.l2),
        dim=hp.Choice("dim", [64, 128, 256], default=base.dim),
    )


def _tuner_class():
    import keras_tuner

    class ValidationSearch(keras_tuner.RandomSearch):
        """Random search whose trial is a two-tower fit with early stopping on the validation window."""

        def __init__(self, item_vectors, valid_task, base, model_seed, **kwargs):
            super().__init__(objective=keras_tuner.Objective(OBJECTIVE, "max"), **kwargs)
            self.item_vectors, self.valid_task, self.base, self.model_seed = item_vectors, valid_task, base, model_seed
            self.trials_table: list[dict] = []

        def run_trial(self, trial, *args, **kwargs):
            config = search_space(trial.hyperparameters, self.base)
            started = time.perf_counter()
            model = TwoTowerRecommender(self.item_vectors, config, seed=self.model_seed, valid_task=self.valid_task)
            epochs = model.select_epochs()
            best = max(point[OBJECTIVE] for point in model.validation_curve)
            if not self.trials_table or best > max(row[OBJECTIVE] for row in self.trials_table):
                self.best_model = model
            self.trials_table.append(
                {
                    "trial": len(self.trials_table) + 1,
                    **trial.hyperparameters.values,
                    "epochs": epochs,
                    OBJECTIVE: best,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            return {OBJECTIVE: best}

    return ValidationSearch


@dataclass
class SearchResult:
    config: TwoTowerConfig  # the best trial's settings
    epochs: int  # its early-stopped epoch count
    trials: pd.DataFrame  # one row per trial: settings, epochs, valid_ndcg@10, seconds
    model: TwoTowerRecommender  # the best trial's model, trained on the validation task's history


def search(
    item_vectors: pd.DataFrame,
    valid_task,
    base: TwoTowerConfig,
    trials: int,
    directory,
    seed: int = 0,
    verbose: int = 0,
) -> SearchResult:
    """Run ``trials`` trials and return the best one.

    ``directory`` receives KerasTuner's trial files (overwritten on each run).
    ``base.epochs`` caps every trial's epochs: it is the per-trial budget.
    """
    if trials < 1:
        raise ParameterError(f"The search needs at least one trial, got trials={trials}.")
    tuner = _tuner_class()(
        item_vectors,
        valid_task,
        base,
        seed,
        max_trials=trials,
        seed=seed,
        directory=str(Path(directory)),
        project_name="two_tower",
        overwrite=True,
    )
    tuner.search(verbose=verbose)
    table = pd.DataFrame(tuner.trials_table)
    best = table.loc[table[OBJECTIVE].idxmax()]
    config = config_with(
        base,
        learning_rate=float(best["learning_rate"]),
        dropout=float(best["dropout"]),
        l2=float(best["l2"]),
        dim=int(best["dim"]),
    )
    return SearchResult(config, int(best["epochs"]), table, tuner.best_model)


RESEEDED = "as chosen, another seed"


def ablation(
    item_vectors: pd.DataFrame,
    valid_task,
    config: TwoTowerConfig,
    seeds,
    augmented_vectors=None,
    adversarial_epsilon: float = 0.05,
    known: dict | None = None,
    reseeded: int | None = None,
) -> pd.DataFrame:
    """Best validation NDCG@10 of ``config`` as is, with augmented titles, and with FGM, per seed.

    Each variant changes one thing; the same seeds are used for all, so the
    per-seed differences are paired. ``known`` maps a seed to the result of
    ``config`` as is when it was already trained the same way (the search's
    best trial: same seed, same epoch cap), so it is not trained again.
    ``reseeded``: one more run of ``config`` as is, with that seed (variant
    :data:`RESEEDED`): what luck alone changes, the yardstick of
    :func:`ablation_note`.
    """
    variants = {"as chosen": {}, f"+ FGM (epsilon {adversarial_epsilon})": {"adversarial_epsilon": adversarial_epsilon}}
    if augmented_vectors is not None:
        variants[f"+ augmented titles ({augmented_vectors.index.nunique()} items)"] = {"augmented": True}
    runs = [(name, change, seed) for name, change in variants.items() for seed in seeds]
    runs += [(RESEEDED, {}, reseeded)] if reseeded is not None else []
    rows = []
    for name, change, seed in runs:
        if name == "as chosen" and seed in (known or {}):
            rows.append(
                {
                    "variant": name,
                    "seed": seed,
                    "epochs": known[seed]["epochs"],
                    OBJECTIVE: known[seed][OBJECTIVE],
                    "seconds": known[seed]["seconds"],
                }
            )
            continue
        settings = config_with(config, **{k: v for k, v in change.items() if k != "augmented"})
        started = time.perf_counter()
        model = TwoTowerRecommender(
            item_vectors,
            settings,
            seed=seed,
            valid_task=valid_task,
            augmented_vectors=augmented_vectors if change.get("augmented") else None,
        )
        epochs = model.select_epochs()
        rows.append(
            {
                "variant": name,
                "seed": seed,
                "epochs": epochs,
                OBJECTIVE: max(point[OBJECTIVE] for point in model.validation_curve),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    return pd.DataFrame(rows)


def ablation_note(table: pd.DataFrame) -> str:
    """Each variant's change in validation NDCG@10 against what another seed changes (one seed each)."""
    score = table.groupby("variant", sort=False)[OBJECTIVE].mean()
    if RESEEDED not in score:
        raise ParameterError(f"The ablation has no {RESEEDED!r} run to compare with: pass reseeded=SEED to ablation().")
    chance = score[RESEEDED] - score["as chosen"]
    lines = [f"{RESEEDED}: {chance:+.4f} (what luck alone changes)"]
    larger = []
    for variant in score.index.drop(["as chosen", RESEEDED]):
        effect = score[variant] - score["as chosen"]
        larger.append(abs(effect) > abs(chance))
        lines.append(
            f"{variant}: {effect:+.4f}, {'larger' if larger[-1] else 'no larger'} than what another seed changes"
        )
    lines.append(
        "Every change is larger than another seed's: a first sign, to confirm with several seeds each."
        if all(larger)
        else "A change no larger than another seed's cannot be told from luck with one seed "
        "each; several seeds of each can."
    )
    return "\n".join(lines)
