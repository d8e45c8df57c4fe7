"""`python -m recft_utils.benchmark rolling` and `rolling-top-k` on the synthetic shop, tiny profile: the commands' code paths."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from recft_utils.evaluation.rolling_origin import read_reference


@pytest.mark.integration  # minutes: a whole benchmark command
def test_rolling_benchmark_writes_windows_verdict_ablations_and_plot(shop_file, tmp_path):
    out = tmp_path / "rolling.json"
    subprocess.run([sys.executable, "-m", "recft_utils.benchmark", "rolling", "--profile", "tiny", "--windows", "2",
                    "--dataset", str(shop_file), "--bootstrap", "50", "--out", str(out)], check=True, timeout=900)
    result = json.loads(out.read_text())
    records = pd.DataFrame(result["records"])
    assert set(records["window"]) == {1, 2}
    assert set(records["family"]) == {"classical", "lexical", "text-frozen", "text-fine-tuned", "blend"}
    # every language-model record names its lexical twin's record
    twins = records.dropna(subset=["twin"]).drop_duplicates("model").set_index("model")["twin"]
    assert len(twins) and set(twins) <= set(records.loc[records["family"] == "lexical", "model"])
    # each window made its own choices on its own validation window, before its own test window
    first, second = result["choices"]["1"], result["choices"]["2"]
    assert second["data_end"] == first["test_start"] and first["data_end"] == ""
    verdict = pd.DataFrame(result["verdict"])
    assert set(verdict["view"]) == {"discovery", "cold"}
    assert set(verdict["against"]) == {"lexical twin", "best lexical", "best classical"}
    cold = verdict[verdict["view"] == "cold"]
    assert cold["low_two_way"].notna().all()  # the cold view resamples products too
    assert out.with_suffix(".gains.parquet").is_file()
    assert (verdict["low"] <= verdict["difference"]).all() and (verdict["difference"] <= verdict["high"]).all()
    assert set(pd.DataFrame(result["paired"])["window"]) == {"1", "2", "pooled"}
    assert "without popularity prior" in set(pd.DataFrame(result["ablation"])["ablation"])
    assert set(pd.DataFrame(result["fine_tuned"])["window"]) == {"1", "2", "pooled"}
    scores = pd.read_parquet(out.with_suffix(".scores.parquet"))
    assert {"window", "model", "family", "seed", "view", "user_id", "ndcg"} <= set(scores.columns)
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert "Pooled verdict" in out.with_suffix(".md").read_text()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_tables import render_rolling

    block = render_rolling(out, images=tmp_path, reference=tmp_path / "reference.json")
    assert "In short, generated from the tables below" in block and "against its lexical twin" in block
    assert (tmp_path / "rolling_origin.png").is_file()
    reference = read_reference(tmp_path / "reference.json")  # what notebook 03 would show
    assert list(reference["discovery"].columns) == ["window 1", "window 2", "pooled"]
    assert reference["profile"] == "tiny"


@pytest.mark.integration  # a whole benchmark command
def test_top_k_fine_tuning_on_windows_is_chosen_on_validation(shop_file, tmp_path):
    """`python -m recft_utils.benchmark rolling-top-k --profile tiny --windows 1` on the synthetic shop, then
    its README block."""
    out = tmp_path / "rolling-top-k.json"
    subprocess.run([sys.executable, "-m", "recft_utils.benchmark", "rolling-top-k", "--profile", "tiny",
                    "--windows", "1", "--dataset", str(shop_file), "--bootstrap", "50", "--out", str(out)],
                   check=True, timeout=900)
    result = json.loads(out.read_text())
    choice = result["choices"]["1"]
    # the fine-tuning steps kept are 0 exactly when no epoch beat the frozen model on validation
    beat = max(point["valid_ndcg@10"] for point in choice["curve"]) > choice["frozen_valid_ndcg@10"]
    assert (choice["top_k_steps"] > 0) == beat
    assert choice["top_k_steps"] == choice["top_k_epochs"] * result["settings"]["steps_per_epoch"]
    paired = pd.DataFrame(result["paired"])
    assert set(paired["window"]) == {"1", "pooled"} and set(paired["view"]) == {"discovery", "cold"}
    if not beat:  # then the "fine-tuned" model is the frozen one, customer by customer
        assert (paired["difference"] == 0).all()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_tables import render_rolling_top_k

    block = render_rolling_top_k(out, reference=tmp_path / "reference.json")
    assert "window 1:" in block and "| pooled" in block
    assert json.loads((tmp_path / "reference.json").read_text())["paired"] == result["paired"]


@pytest.mark.integration  # a whole benchmark command
def test_learning_curve_writes_every_model_at_every_size_and_the_unshared_view(shop_file, tmp_path):
    out = tmp_path / "learning-curve.json"
    subprocess.run([sys.executable, "-m", "recft_utils.benchmark", "learning-curve", "--profile", "tiny",
                    "--windows", "1", "--fractions", "0.5", "1", "--dataset", str(shop_file), "--bootstrap", "50",
                    "--out", str(out)], check=True, timeout=900)
    result = json.loads(out.read_text())
    curve = pd.DataFrame(result["curve"])
    assert set(curve["fraction"]) == {0.5, 1.0}
    for fraction, rows in curve[curve["view"] == "discovery"].groupby("fraction"):
        assert {"two-tower (text)", "two-tower (words)", "two-tower (IDs only)", "EASE + recent popularity",
                "two-tower (text), top layer fine-tuned"} <= set(rows["model"])
    assert ((curve["low"] <= curve["ndcg@10"]) & (curve["ndcg@10"] <= curve["high"])).all()
    differences = pd.DataFrame(result["differences"])
    assert {("two-tower (text)", "two-tower (words)"), ("two-tower (text), top layer fine-tuned",
                                                        "two-tower (text)")} <= set(
        zip(differences["model"], differences["baseline"]))
    assert result["choices"]["1@0.5"]["customers"] < result["choices"]["1@1"]["customers"]
    assert out.with_suffix(".png").stat().st_size > 10_000
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_tables import render_learning_curve

    block = render_learning_curve(out, images=tmp_path, reference=tmp_path / "curve.json")
    assert "In short, generated from the tables below: " in block
    assert "discovery, two-tower (text) minus two-tower (words): interval" in block
    assert json.loads((tmp_path / "curve.json").read_text())["sentences"]


@pytest.mark.integration  # a whole benchmark command
def test_base_models_puts_each_encoder_and_the_words_in_the_same_recipes(shop_file, tmp_path):
    out = tmp_path / "base-models.json"
    subprocess.run([sys.executable, "-m", "recft_utils.benchmark", "base-models", "--profile", "tiny", "--windows", "1",
                    "--encoders", "all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "--dataset", str(shop_file),
                    "--bootstrap", "50", "--out", str(out)], check=True, timeout=900)
    result = json.loads(out.read_text())
    costs = pd.DataFrame(result["costs"]).set_index("encoder")
    assert costs.loc["paraphrase-MiniLM-L3-v2", "parameters"] < costs.loc["all-MiniLM-L6-v2", "parameters"]
    assert (costs["titles_per_second"] > 0).all() and set(costs["family"]) == {"bert"}
    table = pd.DataFrame(result["table"])
    assert set(table["encoder"]) == {"all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "words (TF-IDF)"}
    assert set(table["recipe"]) == {"two-tower", "title neighbours", "title neighbours + profile"}
    smaller = table[(table["encoder"] == "paraphrase-MiniLM-L3-v2") & (table["recipe"] == "two-tower")]
    assert smaller[["vs words", "vs chapter model"]].notna().all().all()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_tables import render_base_models

    block = render_base_models(out, reference=tmp_path / "base.json")
    assert "paraphrase-MiniLM-L3-v2" in block and json.loads((tmp_path / "base.json").read_text())["costs"]
