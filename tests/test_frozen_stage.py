"""Step 3a's frozen models, saved and restored by step 3b: the same scores, the same cost, no retraining."""

import numpy as np

from recft_utils.models.frozen_stage import FrozenStage, load_frozen_stage, save_frozen_stage
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.models.two_tower_recommender import TwoTowerRecommender
from recft_utils.run import Run


def test_a_saved_frozen_stage_comes_back_scoring_exactly_as_trained(shop_sample, shop_vectors, tmp_path):
    _, valid, test = shop_sample
    config = TwoTowerConfig(epochs=1, dim=32)
    valid_model = TwoTowerRecommender(shop_vectors, config, seed=0).fit(valid, 1)
    test_models = {seed: TwoTowerRecommender(shop_vectors, config, seed=seed).fit(test, 1) for seed in (1, 2)}
    run = Run(tmp_path)
    for step in ("01_requirements", "02_data_preparation"):
        run.start(step)
        run.finish(step, {"profile": "tiny"})
    out = run.start("03a_two_tower")
    save_frozen_stage(out, FrozenStage(config, 1, 0.05, 0.6, valid_model, test_models))
    run.finish("03a_two_tower", {"profile": "tiny"})

    stage = load_frozen_stage(run, shop_vectors, valid, test)
    assert (stage.config, stage.epochs, stage.valid_ndcg, stage.blend_weight) == (config, 1, 0.05, 0.6)
    assert sorted(stage.test_models) == [1, 2] and stage.test_models[2].seed == 2
    rows = test.eval_rows[:5]
    for seed, trained in test_models.items():
        restored = stage.test_models[seed]
        np.testing.assert_allclose(restored.score(rows), trained.score(rows), rtol=1e-5, atol=1e-6)
        assert restored.stats["train_seconds"] == trained.stats["train_seconds"] > 0  # the cost 3b adds up
    np.testing.assert_allclose(
        stage.valid_model.score(valid.eval_rows[:5]), valid_model.score(valid.eval_rows[:5]), rtol=1e-5, atol=1e-6
    )
