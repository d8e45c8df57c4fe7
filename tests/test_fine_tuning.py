"""Fine-tuning regimes, augmentation and FGM, and the hyper-parameter search, on real data."""

import numpy as np
import pandas as pd
import pytest

from recft_utils.datasets.preparation import catalogue_titles
from recft_utils.errors import ParameterError
from recft_utils.evaluation import evaluate
from recft_utils.models.fine_tuned_recommender import FineTunedRecommender
from recft_utils.models.fine_tuning import (
    CatalogueTextEncoder,
    FineTuneConfig,
    check_regime,
    sampled_softmax_loss,
    tokenize_titles,
)
from recft_utils.models.two_tower import TwoTowerConfig, config_with
from recft_utils.models.two_tower_recommender import TwoTowerRecommender, title_variants
from recft_utils.text import SentenceEncoder


@pytest.fixture(scope="module")
def titles(sample):
    return catalogue_titles(sample[0])


@pytest.fixture(scope="module")
def frozen(sample, vectors):
    """A frozen-regime model fitted on the test window's history (the fine-tuning start)."""
    return TwoTowerRecommender(vectors, TwoTowerConfig(epochs=2), seed=0).fit(sample[2])


def test_unknown_regime_and_impossible_settings_fail_before_training(frozen, titles):
    with pytest.raises(ParameterError, match="Unknown fine-tuning regime 'adapter'"):
        check_regime("adapter")
    for bad in ({"batch_size": 0}, {"negatives": -1}, {"sequence_length": 4}, {"top_layers": 0}):
        with pytest.raises(ParameterError):
            config_with(FineTuneConfig(), **bad)
    with pytest.raises(ParameterError, match="Unknown fine-tuning setting"):
        config_with(FineTuneConfig(), rank=4)
    with pytest.raises(ParameterError, match="only 6 layers"):
        FineTunedRecommender(frozen, titles, SentenceEncoder.load, FineTuneConfig(top_layers=7)).fit(frozen.task)


def test_titles_are_padded_and_truncated_with_their_end_marker():
    encoder = SentenceEncoder.load()
    ids, mask = tokenize_titles(encoder, ["red mug", "a very long title " * 10], sequence_length=12)
    assert ids.shape == (2, 12) and mask[0].sum() == 4 and mask[1].sum() == 12
    assert ids[0, 3] == ids[1, 11] == encoder.sep_id and ids[0, 0] == encoder.cls_id


@pytest.mark.parametrize("regime", ["top_k", "full"])
def test_cached_lower_layers_give_the_pretrained_embeddings(titles, regime):
    """Before training, every regime's item tower is the pretrained sentence encoder."""
    encoder = SentenceEncoder.load()
    sample_titles = list(titles.iloc[:200])
    ids, mask = tokenize_titles(encoder, sample_titles, 32)
    tower = CatalogueTextEncoder(encoder.backbone, ids, mask, FineTuneConfig(regime=regime, top_layers=2))
    np.testing.assert_allclose(tower.encode_all(batch=64), encoder.encode(sample_titles), atol=2e-5)


def test_sampled_softmax_masks_a_rows_own_purchases_but_not_its_positive():
    logits = np.array([[2.0, 1.0, 0.5], [0.0, 3.0, 1.0]], np.float32)
    log_q = np.log(np.array([0.5, 0.25, 0.25], np.float32))
    excluded = np.array([[True, False, True], [False, True, False]])  # row 0 bought candidate 2 before
    loss = float(sampled_softmax_loss(logits, log_q, excluded))
    corrected = logits - log_q
    row0 = -corrected[0, 0] + np.log(np.exp(corrected[0, :2]).sum())
    row1 = -corrected[1, 1] + np.log(np.exp(corrected[1]).sum())
    assert loss == pytest.approx((row0 + row1) / 2, rel=1e-5)


def test_top_k_trains_only_the_top_layers_and_scores_cold_items(sample, frozen, titles, tmp_path):
    _, _, test = sample
    config = FineTuneConfig(regime="top_k", top_layers=1, epochs=1, batch_size=64, negatives=64, steps_per_epoch=5)
    model = FineTunedRecommender(frozen, titles, SentenceEncoder.load, config).fit(test)
    assert model.stats["epochs_run"] == 1 and model.stats["examples_per_second"] > 0
    assert model.stats["train_examples"] == 5 * 64  # the step budget
    # one transformer layer (~1.8M weights) plus the head, not the 22M of the encoder
    assert 1.5e6 < model.stats["trainable_parameters"] < 3e6
    moved = np.abs(np.asarray(model.model.text) - np.asarray(frozen.model.text)).max()
    assert moved > 1e-4  # the item tower changed
    results = evaluate(model, test)
    assert set(results) == {"all", "discovery", "cold"} and np.isfinite(results["cold"]["ndcg"]).all()
    # the saved encoder reproduces the fine-tuned catalogue vectors
    model.save_text_encoder(tmp_path / "text_encoder")
    reloaded = SentenceEncoder.from_preset_folder(tmp_path / "text_encoder")
    some = [0, 1, len(test.items) - 1]
    np.testing.assert_allclose(
        reloaded.encode(list(titles.reindex(test.items[some]))), np.asarray(model.model.text)[some], atol=2e-5
    )
    with pytest.raises(Exception, match="not a saved encoder"):
        SentenceEncoder.from_preset_folder(tmp_path)


def test_lora_trains_a_small_number_of_weights(sample, frozen, titles):
    config = FineTuneConfig(regime="lora", lora_rank=2, batch_size=64, negatives=32)
    tuner = FineTunedRecommender(frozen, titles, SentenceEncoder.load, config)
    model, _, _ = tuner.build(sample[2], frozen.model)
    lora = [w for w in model.trainable_weights if "lora" in w.path]
    assert len(lora) == 2 * 2 * 6  # A and B matrices, query and value, six layers
    assert tuner.throughput(sample[2], frozen.model, steps=2) > 0


def test_top_k_step_compiles_with_xla(sample, frozen, titles):
    config = FineTuneConfig(regime="top_k", batch_size=32, negatives=32, jit_compile=True)
    assert FineTunedRecommender(frozen, titles, SentenceEncoder.load, config).throughput(sample[2], frozen.model, 2) > 0


def test_title_variants_put_each_augmentation_in_its_own_slot():
    items = np.array([10, 20, 30])
    original = pd.DataFrame(np.eye(3, dtype=np.float32), index=items)
    augmented = pd.DataFrame(np.full((3, 3), 5.0, np.float32), index=[20, 20, 30])
    table = title_variants(original, augmented, items)
    assert table.shape == (3, 3, 3)
    np.testing.assert_array_equal(table[0], np.eye(3))
    assert (table[1, 1] == 5).all() and (table[2, 1] == 5).all() and (table[1, 2] == 5).all()
    np.testing.assert_array_equal(table[2, 2], np.eye(3)[2])  # item 30 has one augmentation
    np.testing.assert_array_equal(table[1:, 0], np.eye(3)[[0, 0]])  # item 10 has none


def test_augmented_and_adversarial_training_run_and_differ(sample, vectors):
    _, _, test = sample
    augmented = vectors.iloc[:50] + 0.1
    base = TwoTowerConfig(epochs=1)
    plain = TwoTowerRecommender(vectors, base, seed=0).fit(test)
    noisy = TwoTowerRecommender(vectors, base, seed=0, augmented_vectors=augmented).fit(test)
    adversarial = TwoTowerRecommender(vectors, TwoTowerConfig(epochs=1, adversarial_epsilon=0.05), seed=0).fit(test)
    rows = test.eval_rows[:10]
    for other in (noisy, adversarial):
        assert np.isfinite(other.stats["final_loss"])
        assert not np.allclose(other.score(rows), plain.score(rows))
    with pytest.raises(ParameterError, match="adversarial_epsilon"):
        TwoTowerConfig(adversarial_epsilon=-1).checked()


def test_search_starts_from_the_defaults_and_returns_the_best_trial(sample, vectors, tmp_path):
    from recft_utils.experiments.tuning import OBJECTIVE, search

    _, valid, _ = sample
    base = TwoTowerConfig(epochs=2)
    result = search(vectors, valid, base, trials=2, directory=tmp_path, seed=0)
    config, epochs, table = result.config, result.epochs, result.trials
    assert len(table) == 2 and 1 <= epochs <= 2
    assert max(p[OBJECTIVE] for p in result.model.validation_curve) == table[OBJECTIVE].max()
    first = table.iloc[0]
    assert first["learning_rate"] == pytest.approx(base.learning_rate) and first["dim"] == base.dim
    best = table.loc[table[OBJECTIVE].idxmax()]
    assert config.learning_rate == pytest.approx(best["learning_rate"]) and config.dim == best["dim"]
    assert (tmp_path / "two_tower").is_dir()
    with pytest.raises(ParameterError, match="at least one trial"):
        search(vectors, valid, base, trials=0, directory=tmp_path)


def test_ablation_changes_one_thing_per_variant_with_paired_seeds(sample, vectors):
    from recft_utils.experiments.tuning import OBJECTIVE, ablation

    _, valid, _ = sample
    table = ablation(vectors, valid, TwoTowerConfig(epochs=1), seeds=[0, 1], augmented_vectors=vectors.iloc[:30] + 0.1)
    assert len(table) == 6 and set(table["seed"]) == {0, 1}
    assert table["variant"].str.contains("augmented titles \\(30 items\\)").any()
    assert table[OBJECTIVE].between(0, 1).all()
    reused = ablation(
        vectors, valid, TwoTowerConfig(epochs=1), seeds=[0], known={0: {"epochs": 1, OBJECTIVE: 0.5, "seconds": 0.0}}
    )
    assert len(reused) == 2 and reused[OBJECTIVE].iloc[0] == 0.5  # the known run is not trained again


def test_the_ablation_s_changes_are_read_against_another_seed(sample, vectors):
    import pandas as pd

    from recft_utils.experiments.tuning import OBJECTIVE, RESEEDED, ablation, ablation_note

    _, valid, _ = sample
    table = ablation(
        vectors,
        valid,
        TwoTowerConfig(epochs=1),
        seeds=[0],
        reseeded=1,
        known={0: {"epochs": 1, OBJECTIVE: 0.5, "seconds": 0.0}},
    )
    assert list(table["variant"]) == ["as chosen", "+ FGM (epsilon 0.05)", RESEEDED]
    assert table.loc[2, "seed"] == 1 and table.loc[2, OBJECTIVE] != 0.5  # trained, not the known run
    made = pd.DataFrame(
        {"variant": ["as chosen", "+ FGM", "+ augmented", RESEEDED], OBJECTIVE: [0.100, 0.105, 0.101, 0.097]}
    )
    note = ablation_note(made)
    assert f"{RESEEDED}: -0.0030 (what luck alone changes)" in note
    assert "+ FGM: +0.0050, larger than" in note and "+ augmented: +0.0010, no larger than" in note
    assert note.endswith("several seeds of each can.")
    with pytest.raises(ParameterError, match="pass reseeded=SEED"):
        ablation_note(made[made["variant"] != RESEEDED])


@pytest.mark.integration  # minutes: a whole benchmark command
def test_benchmark_models_writes_records_throughput_table_and_plot(shop_file, tmp_path):
    """`python -m recft_utils.benchmark models --profile tiny` on the synthetic shop: every model, every
    regime, one seed (the command's code paths; its figures come from the real data, README)."""
    import json
    import subprocess
    import sys

    out = tmp_path / "models.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "recft_utils.benchmark",
            "models",
            "--profile",
            "tiny",
            "--dataset",
            str(shop_file),
            "--out",
            str(out),
            "--bootstrap",
            "50",
        ],
        check=True,
        timeout=900,
    )
    records = pd.DataFrame(json.loads(out.read_text()))
    assert {
        "model",
        "view",
        "ndcg@10",
        "recall@10",
        "n_users",
        "seed",
        "regime",
        "train_seconds",
        "peak_rss_mb",
    } <= set(records.columns)
    for label in (
        "frozen encoder + adapter",
        "top-k layers (lower layers cached)",
        "LoRA (KerasHub)",
        "full fine-tuning",
        "ID embeddings",
        "classical",
        "frozen encoder + adapter, blended with EASE + recent popularity",
    ):
        assert (records["regime"] == label).any(), label
    assert set(records["family"]) == {"classical", "lexical", "text-frozen", "text-fine-tuned", "blend"}
    assert set(records.loc[records["regime"] == "full fine-tuning", "family"]) == {"text-fine-tuned"}
    tuned = records[records["regime"] == "full fine-tuning"]
    assert set(tuned["view"]) == {"all", "discovery", "cold"} and (tuned["examples_per_second"] > 0).all()
    speed = pd.DataFrame(json.loads((tmp_path / "models-throughput.json").read_text()))
    assert len(speed) == 6 and (speed["examples_per_second"] > 0).all()
    assert (tmp_path / "models.png").stat().st_size > 10_000
    assert "full fine-tuning" in (tmp_path / "models.md").read_text()
    assert (tmp_path / "models-search" / "two_tower").is_dir()
    assert "blend weight" in (tmp_path / "models.md").read_text()
    ablation = pd.DataFrame(json.loads((tmp_path / "models-ablation.json").read_text()))
    assert ablation["variant"].str.contains("augmented titles").any() and ablation["variant"].str.contains("FGM").any()
