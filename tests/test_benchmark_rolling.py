"""`python -m recft_utils.benchmark rolling` and `rolling-top-k` on the synthetic shop, tiny profile: the
commands' code paths."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recft_utils.evaluation.rolling_origin import read_reference


@pytest.mark.integration  # minutes: a whole benchmark command
def test_rolling_benchmark_writes_windows_verdict_ablations_and_plot(shop_file, tmp_path):
    out = tmp_path / "rolling.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "recft_utils.benchmark",
            "rolling",
            "--profile",
            "tiny",
            "--windows",
            "2",
            "--dataset",
            str(shop_file),
            "--bootstrap",
            "50",
            "--out",
            str(out),
        ],
        check=True,
        timeout=900,
    )
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
    from readme_window_tables import render_rolling

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
    subprocess.run(
        [
            sys.executable,
            "-m",
            "recft_utils.benchmark",
            "rolling-top-k",
            "--profile",
            "tiny",
            "--windows",
            "1",
            "--dataset",
            str(shop_file),
            "--bootstrap",
            "50",
            "--out",
            str(out),
        ],
        check=True,
        timeout=900,
    )
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
    from readme_window_tables import render_rolling_top_k

    block = render_rolling_top_k(out, reference=tmp_path / "reference.json")
    assert "window 1:" in block and "| pooled" in block
    assert json.loads((tmp_path / "reference.json").read_text())["paired"] == result["paired"]


@pytest.mark.integration  # a whole benchmark command
def test_learning_curve_writes_every_model_at_every_size_and_the_unshared_view(shop_file, tmp_path):
    out = tmp_path / "learning-curve.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "recft_utils.benchmark",
            "learning-curve",
            "--profile",
            "tiny",
            "--windows",
            "1",
            "--fractions",
            "0.5",
            "1",
            "--dataset",
            str(shop_file),
            "--bootstrap",
            "50",
            "--out",
            str(out),
        ],
        check=True,
        timeout=900,
    )
    result = json.loads(out.read_text())
    curve = pd.DataFrame(result["curve"])
    assert set(curve["fraction"]) == {0.5, 1.0}
    for fraction, rows in curve[curve["view"] == "discovery"].groupby("fraction"):
        assert {
            "two-tower (text)",
            "two-tower (words)",
            "two-tower (IDs only)",
            "EASE + recent popularity",
            "two-tower (text), top layer fine-tuned",
        } <= set(rows["model"])
    assert ((curve["low"] <= curve["ndcg@10"]) & (curve["ndcg@10"] <= curve["high"])).all()
    differences = pd.DataFrame(result["differences"])
    assert {
        ("two-tower (text)", "two-tower (words)"),
        ("two-tower (text), top layer fine-tuned", "two-tower (text)"),
    } <= set(zip(differences["model"], differences["baseline"]))
    # the cold view resamples products too (both models rank new products); the discovery view does not
    cold = differences[(differences["view"] == "cold") & (differences["baseline"] == "two-tower (words)")]
    assert len(cold) and np.isfinite(cold[["low_two_way", "high_two_way"]].to_numpy(dtype=float)).all()
    assert differences.loc[differences["view"] == "discovery", "low_two_way"].isna().all()
    gains = pd.read_parquet(out.with_suffix(".gains.parquet"))
    assert {"fraction", "view", "model", "user_id", "item_id", "gain"} <= set(gains.columns)
    assert "cold" in set(gains["view"])
    assert result["choices"]["1@0.5"]["customers"] < result["choices"]["1@1"]["customers"]
    assert out.with_suffix(".png").stat().st_size > 10_000
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_window_tables import render_learning_curve

    block = render_learning_curve(out, images=tmp_path, reference=tmp_path / "curve.json")
    assert "In short, generated from the tables below: " in block
    assert "discovery, two-tower (text) minus two-tower (words): interval" in block
    assert "low_two_way" in block and "decide on the wider of the two" in block
    assert json.loads((tmp_path / "curve.json").read_text())["sentences"]


@pytest.mark.integration  # a whole benchmark command
def test_base_models_puts_each_encoder_and_the_words_in_the_same_recipes(shop_file, tmp_path):
    out = tmp_path / "base-models.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "recft_utils.benchmark",
            "base-models",
            "--profile",
            "tiny",
            "--windows",
            "1",
            "--encoders",
            "all-MiniLM-L6-v2",
            "paraphrase-MiniLM-L3-v2",
            "--dataset",
            str(shop_file),
            "--bootstrap",
            "50",
            "--out",
            str(out),
        ],
        check=True,
        timeout=900,
    )
    result = json.loads(out.read_text())
    costs = pd.DataFrame(result["costs"]).set_index("encoder")
    assert costs.loc["paraphrase-MiniLM-L3-v2", "parameters"] < costs.loc["all-MiniLM-L6-v2", "parameters"]
    assert (costs["titles_per_second"] > 0).all() and set(costs["family"]) == {"bert"}
    table = pd.DataFrame(result["table"])
    assert set(table["encoder"]) == {"all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2", "words (TF-IDF)"}
    assert set(table["recipe"]) == {"two-tower", "title neighbours", "title neighbours + profile"}
    smaller = table[(table["encoder"] == "paraphrase-MiniLM-L3-v2") & (table["recipe"] == "two-tower")]
    assert smaller[["vs words", "vs chapter model"]].notna().all().all()
    # the cold rows also have intervals over customers and products, beside the per-customer ones
    two_way = [f"vs {against} {end} two-way" for against in ("words", "chapter model") for end in ("low", "high")]
    assert set(two_way) <= set(table.columns)
    compared = table[(table["view"] == "cold") & table["vs chapter model"].notna()]
    assert len(compared) and np.isfinite(compared[two_way[2:]].to_numpy(dtype=float)).all()
    assert table.loc[table["view"] == "discovery", two_way].isna().all().all()
    assert out.with_suffix(".gains.parquet").is_file()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_window_tables import render_base_models

    block = render_base_models(out, reference=tmp_path / "base.json")
    assert "paraphrase-MiniLM-L3-v2" in block and json.loads((tmp_path / "base.json").read_text())["costs"]
    assert "vs chapter model low two-way" in block and "use the wider of the two" in block
    assert "over customers and products" in block  # the cold sentence shows both intervals


COSTS = [
    {"encoder": "all-MiniLM-L6-v2", "family": "bert", "parameters": 22_713_216, "dim": 384, "titles_per_second": 900.0},
    {
        "encoder": "paraphrase-MiniLM-L3-v2",
        "family": "bert",
        "parameters": 17_389_824,
        "dim": 384,
        "titles_per_second": 1800.0,
    },
]


def _base_row(encoder, view, recipe, low, high, two_way=None):
    row = {
        "encoder": encoder,
        "view": view,
        "recipe": recipe,
        "ndcg@10": 0.2,
        "vs words": 0.01,
        "vs words low": 0.005,
        "vs words high": 0.015,
        "vs chapter model": (low + high) / 2,
        "vs chapter model low": low,
        "vs chapter model high": high,
    }
    if two_way is not None:  # a run with two-way intervals
        row.update(
            {
                "vs words low two-way": -0.01,
                "vs words high two-way": 0.03,
                "vs chapter model low two-way": two_way[0],
                "vs chapter model high two-way": two_way[1],
            }
        )
    return row


def test_the_base_model_choice_decides_on_the_wider_interval():
    from recft_utils.text.base_models import base_model_choice

    def summary(two_way=None):
        chapter = _base_row(
            "all-MiniLM-L6-v2",
            "cold",
            "title neighbours + profile",
            float("nan"),
            float("nan"),
            two_way and (float("nan"), float("nan")),
        )
        return {
            "costs": COSTS,
            "table": [
                chapter,
                _base_row("paraphrase-MiniLM-L3-v2", "cold", "title neighbours + profile", 0.002, 0.010, two_way),
            ],
        }

    # above 0 per customer, but not once products are resampled too: not distinguishable, so no "beats"
    note = base_model_choice(summary(two_way=(-0.003, 0.015)))
    assert (
        "paraphrase-MiniLM-L3-v2 +0.0060 (+0.0020 to +0.0100 per customer, -0.0030 to +0.0150 over customers "
        "and products, not distinguishable)"
    ) in note
    assert "against the same recipe on words +0.0100 (+0.0050 to +0.0150 per customer, -0.0100 to +0.0300" in note
    choice = next(line for line in note.splitlines() if line.startswith("Choose"))
    assert "beats" not in note and choice.endswith(
        "it is smaller than all-MiniLM-L6-v2 and loses nowhere with an interval below 0."
    )
    # both intervals above 0: better, and chosen for it
    assert (
        "(+0.0020 to +0.0100 per customer, +0.0010 to +0.0120 over customers and products, better)"
        in base_model_choice(summary(two_way=(0.001, 0.012)))
    )
    # an older summary, without the two-way columns: the per-customer interval decides
    older = base_model_choice(summary())
    assert "paraphrase-MiniLM-L3-v2 +0.0060 (+0.0020 to +0.0100, better)" in older
    assert "paraphrase-MiniLM-L3-v2 beats all-MiniLM-L6-v2 with an interval above 0" in older


def test_older_summaries_without_two_way_intervals_still_render(tmp_path):
    """README blocks of base-models and learning-curve runs from before the two-way intervals."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_window_tables import render_base_models, render_learning_curve

    base = tmp_path / "base-models.json"
    base.write_text(
        json.dumps(
            {
                "profile": "tiny",
                "dataset": "shop",
                "windows": 1,
                "seconds": 60.0,
                "costs": COSTS,
                "table": [_base_row("paraphrase-MiniLM-L3-v2", "cold", "title neighbours + profile", 0.002, 0.010)],
            }
        )
    )
    block = render_base_models(base, reference=tmp_path / "base.json")
    assert "resample customers only" in block and "two-way" not in block.split("Which to choose")[0].replace(
        "rolling benchmark's two-way ones", ""
    )
    row = {
        "view": "cold",
        "fraction": 1.0,
        "model": "lm",
        "baseline": "words",
        "difference": 0.01,
        "low": 0.005,
        "high": 0.015,
        "n_users": 100,
    }
    curve = tmp_path / "learning-curve.json"
    curve.write_text(
        json.dumps(
            {
                "profile": "tiny",
                "dataset": "shop",
                "windows": 1,
                "fractions": [1.0],
                "seconds": 60.0,
                "choices": {},
                "differences": [row],
                "curve": [
                    {
                        "fraction": 1.0,
                        "view": "cold",
                        "model": "lm",
                        "ndcg@10": 0.2,
                        "low": 0.1,
                        "high": 0.3,
                        "n_users": 10,
                    }
                ],
            }
        )
    )
    curve.with_suffix(".png").write_bytes(b"png")
    block = render_learning_curve(curve, images=tmp_path, reference=tmp_path / "curve.json")
    assert "cold, lm minus words: interval above 0 at 100% (+0.0100)." in block and "low_two_way" not in block


def test_tried_adaptations_put_the_run_and_the_benchmarks_side_by_side():
    from recft_utils.evaluation.rolling_origin import tried_adaptations

    serving = pd.DataFrame(
        {
            "model": ["bar", "two-tower", "top-k"],
            "family": ["classical", "text-frozen", "text-fine-tuned"],
            "valid_ndcg@10": [0.10, 0.12, 0.115],
        }
    )
    paired = pd.DataFrame(
        {
            "model": "adapted",
            "window": ["1", "pooled"],
            "view": "discovery",
            "difference": [0.0, -0.01],
            "low": [-0.02, -0.02],
            "high": [0.02, 0.0],
        }
    )
    reference = {"fine_tuned": paired, "windows": [{}, {}, {}]}
    top_k = {"paired": paired.assign(model="top-k, budgeted").to_dict(orient="records"), "steps": [1, 2, 3]}
    tried = tried_adaptations(serving, 0.12, reference, top_k)
    assert tried["model"].tolist() == ["top-k", "adapted", "top-k, budgeted"]
    assert abs(tried["difference"].iloc[0] + 0.005) < 1e-9 and pd.isna(tried["low"].iloc[0])
    assert tried["where"].iloc[1] == "benchmark, 3 test windows pooled"
    assert tried_adaptations(serving, 0.12)["model"].tolist() == ["top-k"]
