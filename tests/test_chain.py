"""The papermill `tiny` chain (run once per session by `runner.run_chain`, see conftest): every notebook runs,
and the figures it writes hold up."""

import json
from pathlib import Path

import pandas as pd
import pytest

from recft_utils.artefacts import read_json
from recft_utils.config import get_profile
from recft_utils.experiments.serving_choice import served_from_table, two_tower_regime
from recft_utils.models.fine_tuning import REGIME_LABELS
from recft_utils.run import Run
from recft_utils.runner import discover_notebooks

TINY_CUSTOMERS = get_profile("tiny").max_customers


def test_every_notebook_is_executed_with_the_tiny_parameters(tiny_run):
    for notebook in discover_notebooks():
        executed = json.loads((tiny_run / notebook.name).read_text())
        assert executed["metadata"]["papermill"]["parameters"]["profile"] == "tiny"
        # notebooks 02-06 ran in kernels started ahead, their imports done silently (notebook_execution.WarmKernel):
        # the cells count from 1 as in a fresh kernel, and no import noise reached an output
        counts = [cell["execution_count"] for cell in executed["cells"] if cell["cell_type"] == "code"]
        assert counts == list(range(1, len(counts) + 1)), notebook.name
    assert not list(tiny_run.glob("*.failed.ipynb"))


def test_step_01_figures(tiny_run):
    figures = read_json(tiny_run / "01_requirements" / "figures.json")
    protocol = read_json(tiny_run / "01_requirements" / "protocol.json")
    assert figures["customers"] == TINY_CUSTOMERS  # the tiny profile's sample
    assert protocol["test_start"] == "2011-11-09" and protocol["valid_start"] == "2011-10-10"
    baselines = pd.DataFrame(figures["baselines"])
    assert set(baselines["view"]) == {"all", "discovery", "cold"}
    ndcg = baselines.set_index(["model", "view"])["ndcg@10"]
    # on any sample, knowing what customers bought beats guessing
    assert ndcg[("EASE (λ = 300)", "all")] > ndcg[("random", "all")]
    assert ndcg[("popularity (last 30 days)", "all")] > ndcg[("random", "all")]
    assert (tiny_run / "01_requirements" / "long_tail.png").stat().st_size > 10_000


def test_step_02_figures_and_tables(tiny_run):
    folder = tiny_run / "02_data_preparation"
    figures = read_json(folder / "figures.json")
    interactions = pd.read_parquet(folder / "interactions.parquet")
    items = pd.read_parquet(folder / "items.parquet")
    augmented = pd.read_parquet(folder / "augmented_titles.parquet")
    assert figures["customers"] == TINY_CUSTOMERS
    assert sum(part["interactions"] for part in figures["parts"].values()) == len(interactions)
    assert interactions["timestamp"][interactions["part"] == "train"].max() < pd.Timestamp("2011-10-10")
    assert figures["cold_items_test"] == int(items["cold_in_test"].sum()) > 0
    assert figures["sequence_length"] % 8 == 0 and 8 <= figures["sequence_length"] <= 64
    assert set(augmented["method"]) >= {"synonym", "delete", "swap", "typo"}
    assert (augmented["augmented"] != augmented["original"]).mean() > 0.8
    assert set(augmented["item_id"]) <= set(items["item_id"])
    for step in ("01_requirements", "02_data_preparation"):
        manifest = read_json(tiny_run / step / "manifest.json")
        assert manifest["parameters"]["profile"] == "tiny"


def test_step_03a_saves_the_frozen_models_that_03b_restores(tiny_run):
    folder = tiny_run / "03a_two_tower"
    saved = read_json(folder / Run.FROZEN_MODELS)
    assert set(saved["models"]) == {"valid", *(f"seed_{s}" for s in get_profile("tiny").training["chapter"]["seeds"])}
    assert all((folder / entry["file"]).is_file() for entry in saved["models"].values())
    assert len(pd.read_parquet(folder / "search.parquet")) == 2  # the tiny profile's budget
    assert pd.read_parquet(folder / "ablation.parquet")["variant"].str.contains("FGM").any()
    records = pd.read_parquet(folder / Run.RECORDS)
    assert {"frozen encoder + adapter", "ID embeddings"} <= set(records["regime"])
    for name in ("item_vectors.parquet", "search.png", "early_stopping.png", "base_models.parquet"):
        assert (folder / name).is_file(), name


def test_step_03b_writes_a_model_a_fresh_process_can_use(tiny_run):
    folder = tiny_run / "03b_fine_tuning"
    figures = read_json(folder / "figures.json")
    results = pd.read_parquet(folder / "results.parquet")
    choice = read_json(folder / "served_choice.json")
    assert {"frozen encoder + adapter", "ID embeddings"} <= set(results["regime"])
    # a fine-tuned model meets the test window only when validation chose it
    assert ("top-k layers (lower layers cached)" in set(results["regime"])) == (choice["regime"] == "top_k")
    cost = pd.DataFrame(figures["fine_tuning_cost"]).set_index("index")
    assert list(cost.index) == [REGIME_LABELS[r] for r in get_profile("tiny").training["chapter"]["regimes"]]
    assert (cost["examples/s"] > 0).all()
    for name in (
        "two_tower.keras",
        "text_encoder/config.json",
        "text_encoder/tokenizer.json",
        "item_index.parquet",
        "comparison.png",
        "quality_cost.png",
    ):
        assert (folder / name).is_file(), name
    # what was saved is what the rule chose, as step 4 reads it again; every candidate with its interval
    assert served_from_table(choice["candidates"]) == choice["regime"]
    assert read_json(folder / "two_tower_config.json")["fine_tuning"]["regime"] == two_tower_regime(choice["regime"])
    assert set(choice["validation"]) == {"classical", "frozen", "blend", "top_k"}  # tiny leaves LoRA and full out
    assert [c["key"] for c in choice["candidates"]] == ["classical", "frozen", "blend", "top_k"]
    assert all(c["low"] <= c["difference"] <= c["high"] for c in choice["candidates"][1:])
    assert choice["sentence"].startswith(f"Step 4 serves {choice['model']}")


def test_step_04_exports_serves_measures_and_replays(tiny_run):
    folder = tiny_run / "04_serving"
    figures = read_json(folder / "figures.json")
    assert figures["parity_identical"] == figures["parity_customers"] > 0
    serving = read_json(folder / "serving.json")
    assert [r["concurrency"] for r in serving["records"]] == [1, 8, 32]
    assert serving["check"]["errors"] == 0
    replayed = pd.read_parquet(folder / "replay.parquet")
    # against step 1's bar, the same classical model step 3 blends and serves against
    bar = read_json(tiny_run / "03b_fine_tuning" / "served_choice.json")["classical"]["item_model"]
    assert set(replayed["recommender"]) == {"served model", f"{bar} + recent popularity"} and set(replayed["hit"]) <= {
        0,
        1,
    }
    served_choice = read_json(tiny_run / "03b_fine_tuning" / "served_choice.json")
    assert read_json(folder / "model" / "metadata.json")["model"] == served_choice["model"]
    ab = read_json(folder / Run.REPLAY_COMPARISON)
    assert ab["low"] <= ab["difference"] <= ab["high"]
    for name in ("model/metadata.json", "model/saved_model/saved_model.pb", "latency.png", "replay.png"):
        assert (folder / name).is_file(), name


def test_serving_benchmark_command_and_its_readme_table(tiny_run, tmp_path):
    """`python -m recft_utils.benchmark serving` against the tiny run's model, then the README renderer."""
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_tables import render_serving

    out = tmp_path / "serving.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "recft_utils.benchmark",
            "serving",
            "--run-dir",
            str(tiny_run),
            "--out",
            str(out),
            "--requests",
            "50",
            "--concurrency",
            "1",
            "8",
        ],
        check=True,
        timeout=600,
    )
    result = read_json(out)
    assert [r["requests"] for r in result["records"]] == [50, 50] and result["check"]["errors"] == 0
    assert result["model_version"] == read_json(tiny_run / "04_serving" / "model" / "metadata.json")["version"]
    table = render_serving(out)
    assert "p99_ms" in table and "requests_per_second" in table and "met" in table


MODEL_CARD_SECTIONS = (
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
)
DATASHEET_SECTIONS = (
    "Motivation",
    "Composition",
    "Collection process",
    "Preprocessing, cleaning and labelling",
    "Uses",
    "Distribution",
    "Maintenance",
)


def test_step_05_documents_segments_and_reports(tiny_run):
    folder = tiny_run / "05_collaboration"
    card = (folder / "model_card.md").read_text()
    sheet = (folder / "datasheet.md").read_text()
    assert [f"## {name}" in card for name in MODEL_CARD_SECTIONS] == [True] * len(MODEL_CARD_SECTIONS)
    assert [f"## {name}" in sheet for name in DATASHEET_SECTIONS] == [True] * len(DATASHEET_SECTIONS)
    metadata = read_json(tiny_run / "04_serving" / "model" / "metadata.json")
    assert metadata["version"] in card and "CC BY 4.0" in sheet and "10.24432/C5BW33" in sheet
    assert "**Why this model:** Step 4 serves" in card  # the rule's sentence, naming the served model
    assert ("**Served as:**" in card) == (metadata["blend"] is not None)
    assert "<table>" in (folder / "model_card.html").read_text()
    countries = pd.read_parquet(folder / "segments_country.parquet")
    customers = pd.read_parquet(folder / "customers.parquet")
    assert countries["customers"].sum() == len(customers) and countries["too_small"].any()
    figures = read_json(folder / "figures.json")
    assert 0 <= figures["profile"]["head_share_recommended"] <= 1 and figures["finding"]
    index = (folder / "reports" / "index.html").read_text()
    assert (tiny_run / "mlflow.db").is_file() and len(figures["tracked_runs"]) == 3  # the setting, and another seed
    compared = pd.read_parquet(folder / "runs_compared.parquet").set_index("recorded")
    assert compared.loc["params.dropout", "differs"] == "True"
    assert list(folder.glob("tensorboard/*/train/events.out.tfevents.*"))
    for report in figures["reports"]:
        assert report["status"] == "ok" and report["page"] in index
        page = (folder / "reports" / report["page"]).read_text()
        assert f"country = {report['value']}" in page and "reports.load_inputs" not in page  # no code cells


BROKEN_REPORT = {
    "cells": [
        {
            "cell_type": "code",
            "id": "parameters",
            "metadata": {"tags": ["parameters"]},
            "execution_count": None,
            "outputs": [],
            "source": 'run_dir = ""\nsegment = "country"\nvalue = ""',
        },
        {
            "cell_type": "code",
            "id": "body",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": 'if value == "{bad}":\n    raise ValueError("no data for this one")\nprint(value)',
        },
    ],
    "metadata": {"kernelspec": {"name": "recft", "display_name": "Python (recft)", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_a_failing_report_is_listed_and_does_not_stop_the_others(tiny_run, tmp_path):
    from recft_utils.reporting.reports import run_reports

    cwd = Path.cwd()
    customers = pd.read_parquet(tiny_run / "05_collaboration" / "customers.parquet")
    bad, good = customers["country"].value_counts().index[[1, 0]]
    notebook = tmp_path / "broken_report.ipynb"
    notebook.write_text(json.dumps(BROKEN_REPORT).replace("{bad}", bad))
    table = run_reports(
        tiny_run,
        "country",
        [bad, good],
        out=tmp_path / "reports",
        notebook=notebook,
        progress=False,
        allow_small_groups=True,
    )  # tiny's second country may hold fewer than ten customers
    status = table.set_index("value")["status"]
    assert status[bad] == "failed" and status[good] == "ok"
    assert "no data for this one" in table.set_index("value").loc[bad, "error"]
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "failed" in index and "1 of 2 reports written" in index
    assert Path.cwd() == cwd  # papermill moves into the notebook's folder: never in this process


def test_step_06_simulates_decides_and_operates(tiny_run):
    folder = tiny_run / "06_iteration"
    figures = read_json(folder / "figures.json")
    simulation = pd.read_parquet(folder / "simulation.parquet")
    assert set(simulation["month"]) == {m[:7] for m in figures["months"]}
    assert [d["month"] for d in figures["decisions"]] == sorted(set(simulation["month"]))
    assert all(d["reason"] for d in figures["decisions"])
    assert figures["warm_start"]["warm_seconds"] > 0 and figures["warm_start"]["scratch_seconds"] > 0
    history = figures["registry"]["history"]
    assert [h["action"] for h in history][-1] == "rollback" and figures["registry"]["version"] == history[0]["version"]
    for name in ("rolling.png", "drift.png", "drift.parquet", "decisions.json"):
        assert (folder / name).is_file(), name


def test_the_answer_key_reads_every_notebook_s_figures_from_a_run(tiny_run):
    from recft_utils.workshop.answer_key import SECTIONS, answer_key

    key = answer_key(tiny_run)
    assert list(dict.fromkeys(key["notebook"])) == list(SECTIONS) == [nb.stem for nb in discover_notebooks()]
    assert key["the workshop run shows"].str.len().gt(0).all()


def test_the_guide_s_answer_key_is_written_from_a_run(tiny_run, tmp_path):
    from recft_utils.workshop.answer_key import END, START, answer_key, fill_guide

    guide = tmp_path / "guide.md"
    guide.write_text(f"# Guide\n\n{START}\nstale answers\n{END}\n\nafter\n")
    fill_guide(tiny_run, guide)
    text = guide.read_text()
    assert "stale answers" not in text and text.endswith("\n\nafter\n") and text.count(START) == 1
    assert answer_key(tiny_run).to_markdown(index=False) in text
    guide.write_text("no block")
    with pytest.raises(ValueError, match="no <!-- notebooks:answers:start -->"):
        fill_guide(tiny_run, guide)


def test_the_answer_key_calls_a_faster_base_model_faster():
    from recft_utils.workshop.answer_key import _speed

    assert (_speed(0.47), _speed(1.0), _speed(6.4)) == ("2.1× faster", "1.0× slower", "6.4× slower")
