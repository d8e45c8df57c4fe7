"""Step 3a's frozen-encoder two-tower models, kept for step 3b: what fine-tuning and the blend start from.

Notebook 03a trains the two-tower model on the frozen encoder (the searched
settings, once on the history before the validation window and once per seed
before the test window) and saves each model as a ``.keras`` file beside
``frozen_models.json``. Notebook 03b reads them back with
:func:`load_frozen_stage` and scores exactly what 03a trained, so the two
halves of step 3 never retrain the same model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from recft_utils.artefacts import write_json
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_files import load_model, save_model
from recft_utils.models.two_tower_recommender import TwoTowerRecommender
from recft_utils.run import Run

STEP = "03a_two_tower"


@dataclass
class FrozenStage:
    """The frozen-encoder stage of step 3, as 3a leaves it."""

    config: TwoTowerConfig
    epochs: int  # kept by early stopping in the search
    valid_ndcg: float  # the chosen trial's validation NDCG@10
    blend_weight: float  # the two-tower model's weight in the blend with the classical bar
    valid_model: TwoTowerRecommender  # trained on the history before the validation window
    test_models: dict[int, TwoTowerRecommender]  # by seed, trained on the history before the test window


def save_frozen_stage(folder, stage: FrozenStage) -> Path:
    """Write each model as ``frozen_<window>.keras`` and the settings, scores and timings as ``frozen_models.json``."""
    folder = Path(folder)
    models = {"valid": stage.valid_model, **{f"seed_{seed}": model for seed, model in stage.test_models.items()}}
    for name, model in models.items():
        save_model(model.model, folder / f"frozen_{name}.keras")
    return write_json(
        folder / Run.FROZEN_MODELS,
        {
            "config": asdict(stage.config),
            "epochs": stage.epochs,
            "valid_ndcg@10": stage.valid_ndcg,
            "blend_weight": stage.blend_weight,
            "models": {
                name: {"file": f"frozen_{name}.keras", "seed": model.seed, "stats": model.stats}
                for name, model in models.items()
            },
        },
    )


def load_frozen_stage(run: Run, item_vectors, valid_task, test_task, strategy: str = "default") -> FrozenStage:
    """Step 3a's models of ``run``, each restored on its window (``valid_task``, ``test_task``) as trained there."""
    saved = run.read(STEP, Run.FROZEN_MODELS)
    config = TwoTowerConfig.from_saved(saved["config"])

    def restored(name: str, task) -> TwoTowerRecommender:
        entry = saved["models"][name]
        weights = load_model(run.file(STEP, entry["file"])).get_weights()
        model = TwoTowerRecommender(item_vectors, config, seed=entry["seed"], strategy=strategy)
        model.start_from(task, weights)
        model.stats = dict(entry["stats"])  # its training's cost, which 3b's cost columns add up
        return model

    test_models = {
        saved["models"][name]["seed"]: restored(name, test_task) for name in saved["models"] if name.startswith("seed_")
    }
    return FrozenStage(
        config,
        saved["epochs"],
        saved["valid_ndcg@10"],
        saved["blend_weight"],
        restored("valid", valid_task),
        test_models,
    )
