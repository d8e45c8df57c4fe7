"""A shop above 20,000 products: the whole tiny chain on a grocery-style synthetic shop.

A grocery chain's export (a few thousand households, hundreds of lines each, category-level texts
shared by several products) stopped the chain at step 1 when EASE was the only item-to-item model.
Here the tiny profile's 200 sampled households buy more than 20,000 different products, and every
step must run at that size without a manual switch: the item-to-item model step 1 chooses, the
sampled softmax, the export (with the approximate index, or a blend's sparse weights), the
service, the reports and step 6's retrains. Synthetic: for code paths, never for results.
"""

import json

import pandas as pd
import pytest

from recft_utils.artefacts import read_json
from recft_utils.benchmark.large_shop import large_shop, summary_table, verdict
from recft_utils.run import STEPS

GROCERY = "synthetic:30000:300000:grocery"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """The chain run by `benchmark large-shop` (its code and the chain, once): the folder and the figures."""
    run_dir = tmp_path_factory.mktemp("grocery") / "run"
    return run_dir, large_shop(GROCERY, "tiny", run_dir)


@pytest.fixture(scope="module")
def grocery_run(measured):
    return measured[0]


def outputs_of(notebook) -> str:
    """Every text output of an executed notebook, joined."""
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(output.get("text", "")) for cell in cells for output in cell.get("outputs", []))


@pytest.mark.notebooks
def test_step_1_chooses_an_item_to_item_model_the_machine_affords_and_says_why(grocery_run):
    step = grocery_run / "01_requirements"
    choice = read_json(step / "item_model.json")
    figures = read_json(step / "figures.json")
    assert choice["items"] > 20_000 and choice["model"] in ("EASE", "ItemKNN")
    if choice["model"] == "EASE":  # a machine fast and large enough: within both budgets
        assert choice["ease_gb"] <= choice["memory_budget_gb"] and choice["ease_seconds"] <= choice["seconds_budget"]
    assert choice["reason"] in outputs_of(grocery_run / "01_requirements.ipynb")
    bar = f"{choice['model']} + recent popularity"
    assert bar in {row["model"] for row in figures["baselines"]}
    # shared texts: a new product can carry a known product's text, and the notebook says how often
    assert figures["text_sharing"]["shared_texts"] > 0 and figures["new_products_with_known_text"] > 0
    assert "have exactly the text of a product sold before" in outputs_of(grocery_run / "01_requirements.ipynb")


@pytest.mark.notebooks
def test_every_later_step_runs_at_that_size_with_the_same_choice(grocery_run):
    model = read_json(grocery_run / "01_requirements" / "item_model.json")["model"]
    assert not list(grocery_run.glob("*.failed.ipynb"))
    choice = read_json(grocery_run / "03b_fine_tuning" / "served_choice.json")
    assert choice["classical"]["item_model"] == model
    metadata = read_json(grocery_run / "04_serving" / "model" / "metadata.json")
    assert metadata["items"] > 20_000
    if metadata["blend"] is None:  # a two-tower alone: the approximate index above 20,000 products
        assert metadata["ann"] is not None
    else:  # a blend (or the classical bar): its item-to-item part inside, searched exactly
        assert metadata["blend"]["classical"] == f"{model} + recent popularity"
    replay = pd.read_parquet(grocery_run / "04_serving" / "replay.parquet")
    assert set(replay["recommender"]) == {"served model", f"{model} + recent popularity"}  # step 1's bar
    assert (grocery_run / "05_collaboration" / "model_card.md").is_file()
    decisions = read_json(grocery_run / "06_iteration" / "decisions.json")
    assert len(decisions) >= 1


@pytest.mark.notebooks
def test_the_benchmark_reports_each_notebook_s_time_and_memory(measured):
    _, result = measured
    assert result["catalogue"] > 20_000 and result["customers"] == 200 and result["dataset"] == GROCERY
    assert [r["notebook"] for r in result["notebooks"]][0] == "01_requirements" and len(result["notebooks"]) == len(
        STEPS
    )
    assert all(r["seconds"] > 0 and 0 < r["peak_gb"] <= result["peak_gb"] for r in result["notebooks"])
    assert sum(r["seconds"] for r in result["notebooks"]) <= result["chain_seconds"] * 1.05
    table = summary_table(result)
    assert list(table["notebook"])[-1] == "the chain (wall time)" and len(table) == len(STEPS) + 1
    assert verdict(result).startswith("The tiny chain took ")
