"""BERT or GPT: the base models' measured costs (each real model loaded, counted and timed) and the
choice read from the benchmark's intervals, as notebook 03a's table and notes show them."""

from __future__ import annotations

import pandas as pd
import pytest

from recft_utils.errors import ParameterError


def test_the_real_base_models_are_compared_on_counted_parameters_and_measured_speed():
    """The benchmark's costs (each real model loaded, counted and timed) make notebook 03's table and note."""
    from recft_utils.benchmark.base_models import ENCODERS, encode_with
    from recft_utils.text import base_models
    from recft_utils.text.base_model_registry import BASE_MODELS, installed_file

    titles = pd.Series(
        [
            "red heart t-light holder",
            "set of 3 cake tins pantry design",
            "jumbo bag",
            "lunch box",
            "vintage paisley doormat",
            "glass star frosted t-light holder",
            "hand warmer owl",
            "clock",
        ]
    )
    for spec in BASE_MODELS.values():
        try:
            installed_file(spec)
        except Exception as exc:  # noqa: BLE001 - the message names the command
            pytest.skip(str(exc))
    costs = [encode_with(model, pooling, titles)[1] for model, pooling in ENCODERS[:3]]  # one pooling each
    table = base_models.base_model_costs({"costs": costs, "dataset": "a test shop"})
    published = {"all-MiniLM-L6-v2": 22.7, "paraphrase-MiniLM-L3-v2": 17.4, "SmolLM2-135M-Instruct": 134.5}
    assert list(table.index) == list(published)  # millions, counted on the loaded models
    for name, millions in published.items():
        assert table.loc[name, "parameters (M)"] == pytest.approx(millions, rel=0.02)
    slower = table["× slower than MiniLM"]
    assert slower.iloc[0] == 1 and slower["SmolLM2-135M-Instruct"] > 1  # 30 layers of 576 against 6 of 384
    note = base_models.base_model_note(table, 1000)
    assert "Encoding all 1,000 products once" in note and "every one installs without internet" in note
    assert "on a test shop's whole catalogue" in note
    with pytest.raises(ParameterError, match="benchmark base-models"):
        base_models.base_model_costs(None)


def test_the_base_model_choice_is_read_from_the_benchmark_with_its_intervals():
    from recft_utils.text.base_models import base_model_choice

    costs = [
        {"encoder": "all-MiniLM-L6-v2", "parameters": 22_713_216},
        {"encoder": "paraphrase-MiniLM-L3-v2", "parameters": 17_389_824},
        {"encoder": "SmolLM2-135M-Instruct", "parameters": 134_515_008},
    ]

    def row(encoder, view, recipe, ndcg, against=None):
        low, high = against if against else (float("nan"), float("nan"))
        return {
            "encoder": encoder,
            "view": view,
            "recipe": recipe,
            "ndcg@10": ndcg,
            "vs chapter model": (low + high) / 2,
            "vs chapter model low": low,
            "vs chapter model high": high,
            "vs words": 0.001,
            "vs words low": -0.002,
            "vs words high": 0.004,
        }

    table = [
        row("all-MiniLM-L6-v2", "discovery", "two-tower", 0.110),
        row("paraphrase-MiniLM-L3-v2", "discovery", "two-tower", 0.109, (-0.003, 0.001)),
        row("SmolLM2-135M-Instruct", "discovery", "two-tower", 0.100, (-0.014, -0.006)),
    ]
    note = base_model_choice({"costs": costs, "table": table})
    assert "discovery (two-tower): best all-MiniLM-L6-v2 (0.1100)" in note
    assert "SmolLM2-135M-Instruct -0.0100 (-0.0140 to -0.0060, worse)" in note
    assert note.endswith(
        "Choose paraphrase-MiniLM-L3-v2 here: it is smaller than all-MiniLM-L6-v2 and loses "
        "nowhere with an interval below 0.\nThis chapter keeps all-MiniLM-L6-v2: every other "
        "benchmark, the served model and the answer key were measured with it, and a switch means "
        "measuring them again on paraphrase-MiniLM-L3-v2."
    )
    table[1] = row("paraphrase-MiniLM-L3-v2", "discovery", "two-tower", 0.105, (-0.008, -0.002))
    assert base_model_choice({"costs": costs, "table": table}).endswith(
        "Choose all-MiniLM-L6-v2 here: no other base model beats it without losing elsewhere, and none that is "
        "cheaper keeps its quality."
    )
    # better in one recipe but worse in another: a trade-off, not a choice
    table[2] = row("SmolLM2-135M-Instruct", "discovery", "two-tower", 0.100, (-0.014, -0.006))
    table.append(row("SmolLM2-135M-Instruct", "cold", "title neighbours", 0.22, (0.005, 0.03)))
    note = base_model_choice({"costs": costs, "table": table})
    assert note.endswith(
        "Choose all-MiniLM-L6-v2 here: no other base model beats it without losing elsewhere, and "
        "none that is cheaper keeps its quality (SmolLM2-135M-Instruct is better in cold (title "
        "neighbours) but worse in discovery (two-tower))."
    )
