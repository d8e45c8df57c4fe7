"""A trained two-tower model on disk: saved atomically in the Keras format, loaded with a clear error,
step 3's served model saved into a run folder, and read back from one as a recommender."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.artefacts import write_json, write_parquet
from recft_utils.errors import ParameterError
from recft_utils.keras_backend import keras
from recft_utils.models.two_tower import TextTwoTower, TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender
from recft_utils.run import Run


def save_model(model: TextTwoTower, path) -> Path:
    """Save in the Keras format, atomically (``path`` must end with ``.keras``)."""
    from recft_utils.artefacts import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ParameterError(f"{path}: a Keras model file must end with .keras.")
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def load_model(path) -> TextTwoTower:
    """Load a saved two-tower model; a missing or damaged file gets a clear error."""
    from recft_utils.errors import MissingArtefactError, RecftError

    path = Path(path)
    if not path.exists():
        raise MissingArtefactError(f"{path} does not exist: run notebooks 03a and 03b (`recft checkpoint --step 3`).")
    try:
        return keras.saving.load_model(path, compile=False)  # scoring needs no optimizer
    except Exception as exc:  # zip, h5 and config errors all mean the same to a user
        raise RecftError(
            f"{path} is not a loadable two-tower model ({type(exc).__name__}: {exc}). "
            f"Re-run notebook 03b to write it again."
        ) from exc


def recommender_from_run(run_dir, task) -> TwoTowerRecommender:
    """Step 3's saved model of ``run_dir`` as a recommender fitted on ``task`` (the test task), ready to score."""
    run = Run(run_dir)
    saved = run.model_config()
    return TwoTowerRecommender(
        run.item_vectors(), TwoTowerConfig.from_saved(saved), seed=saved.get("seed", 0)
    ).start_from(task, load_model(run.model_weights()).get_weights())


def save_served_model(folder, model, encoder, config, epochs: int, seed: int, fine_tuning: dict, task) -> None:
    """What step 3 leaves for serving: the served two-tower ``model`` (Keras), the ``encoder`` that made its
    item vectors (a KerasHub preset), its settings (with the chosen ``epochs``, ``seed`` and ``fine_tuning``)
    and ``task``'s catalogue in the model's row order (``warm``: sold before the window)."""
    folder = Path(folder)
    catalogue = pd.DataFrame({"item_id": task.items, "warm": np.arange(len(task.items)) < task.n_warm})
    write_parquet(folder / Run.ITEM_INDEX, catalogue)
    save_model(model, folder / Run.MODEL_WEIGHTS)  # the Keras format: loads anywhere
    encoder.save_preset(folder / Run.TEXT_ENCODER)
    write_json(
        folder / Run.MODEL_CONFIG, {**asdict(config), "epochs": epochs, "seed": seed, "fine_tuning": fine_tuning}
    )
