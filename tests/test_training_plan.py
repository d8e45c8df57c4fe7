"""Step 3's shared training path: the serving rule, the source listings and the rolling-origin summary."""

import json

import pandas as pd
import pytest

from recft_utils.config import PROFILES
from recft_utils.errors import ParameterError
from recft_utils.evaluation.rolling_origin import read_reference, reference_document
from recft_utils.experiments.serving_choice import choose_served_model
from recft_utils.experiments.training_plan import regime_config
from recft_utils.source_listing import source_code


def test_every_profile_plans_the_chapter_and_the_benchmark():
    for profile, settings in PROFILES.items():
        plan = settings.training
        chapter = plan["chapter"]
        assert set(chapter) >= {
            "seeds",
            "top_k_epochs",
            "top_k_steps",
            "other_regime_steps",
            "search_trials",
            "regimes",
        }
        assert chapter["regimes"][0] == "top_k" and set(chapter["regimes"]) <= {"top_k", "lora", "full"}
        assert set(chapter["seeds"]) <= set(plan["seeds"])
        for regime in ("top_k", "lora", "full"):
            assert regime_config(regime, profile).epochs == plan["fine_tune_epochs"][regime]
    assert regime_config("top_k", "workshop", steps_per_epoch=40).steps_per_epoch == 40


def test_source_code_is_the_package_s_own():
    code = source_code(choose_served_model)
    assert code.startswith("def choose_served_model(")
    assert "serving_table" in code


def _tables():
    window = pd.DataFrame(
        {"window 1": [0.1, 0.2], "window 2": [0.3, None], "pooled": [0.2, 0.2]}, index=pd.Index(["EASE", "two-tower"])
    )
    row = {"view": "discovery", "model": "two-tower", "difference": 0.01, "low": 0.0, "high": 0.02}
    return {
        "windows": {"discovery": window, "cold": window.iloc[[1]]},
        "verdict": pd.DataFrame([row]),
        "ablation": pd.DataFrame([{**row, "ablation": "without text"}]),
        "fine_tuned": pd.DataFrame([{**row, "window": "pooled"}]),
    }


def test_rolling_reference_round_trips_through_json(tmp_path):
    document = reference_document(
        _tables(),
        "workshop",
        "online-retail",
        [0, 1],
        [{"window": 1, "test_start": "2011-11-09", "test_end": "2011-12-09"}],
    )
    path = tmp_path / "rolling.json"
    path.write_text(json.dumps(document))  # NaN became null: valid JSON
    reference = read_reference(path)
    assert list(reference["discovery"].columns) == ["window 1", "window 2", "pooled"]  # windows, then pooled
    assert reference["discovery"].loc["two-tower", "window 1"] == 0.2
    assert pd.isna(reference["discovery"].loc["two-tower", "window 2"])
    assert reference["profile"] == "workshop" and reference["fine_tuned"]["window"].tolist() == ["pooled"]


def test_rolling_reference_absent_or_malformed(tmp_path):
    assert read_reference(tmp_path / "missing.json") is None
    (tmp_path / "other.json").write_text(json.dumps({"profile": "workshop"}))
    with pytest.raises(ParameterError, match="readme_tables"):
        read_reference(tmp_path / "other.json")


def test_the_committed_reference_is_readable():
    from recft_utils.config import project_root

    reference = read_reference(project_root() / "docs" / "benchmarks" / "rolling.json")
    assert reference is not None and reference["dataset"] == "online-retail"
    assert {"discovery", "cold"} <= set(reference["verdict"]["view"])


def test_the_two_tower_diagram_draws_both_towers(tmp_path):
    from recft_utils import plots
    from recft_utils.artefacts import save_figure

    figure = plots.two_tower_diagram()
    texts = " ".join(t.get_text() for t in figure.axes[0].texts)
    assert "item tower" in texts and "user tower" in texts and "popularity" in texts
    assert save_figure(tmp_path / "diagram.png", figure).stat().st_size > 10_000


def test_signal_summary_says_which_parts_are_distinguishable_from_zero():
    from recft_utils.evaluation.rolling_origin import signal_summary

    ablation = pd.DataFrame(
        [
            {
                "view": "discovery",
                "ablation": "without text (IDs only)",
                "contribution": 0.01,
                "low": 0.005,
                "high": 0.02,
            },
            {
                "view": "discovery",
                "ablation": "without IDs (text only)",
                "contribution": 0.002,
                "low": -0.001,
                "high": 0.004,
            },
        ]
    )
    fine_tuned = pd.DataFrame(
        [
            {
                "window": "pooled",
                "view": "cold",
                "model": "adapted",
                "baseline": "frozen",
                "difference": -0.01,
                "low": -0.02,
                "high": -0.005,
            },
            {
                "window": "1",
                "view": "cold",
                "model": "adapted",
                "baseline": "frozen",
                "difference": 0.5,
                "low": 0.4,
                "high": 0.6,
            },
        ]
    )
    lines = signal_summary({"ablation": ablation, "fine_tuned": fine_tuned})
    assert lines[0] == (
        "discovery, what each part of the best text model adds: the text +0.0100 (+0.0050 to +0.0200); "
        "the item IDs +0.0020 (-0.0010 to +0.0040, not distinguishable from 0) NDCG@10."
    )
    assert lines[1] == "adapted against frozen, same heads: cold -0.0100 (-0.0200 to -0.0050) NDCG@10."
