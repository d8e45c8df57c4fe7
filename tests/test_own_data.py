"""A shop's own data: the whole tiny chain on a bring-your-own file."""

import pytest

from recft_utils.artefacts import read_json
from recft_utils.runner import run_chain


@pytest.mark.notebooks
def test_the_chain_runs_on_a_bring_your_own_file(mirror_root, tmp_path):
    """A CSV in the documented schema (here: 300 real customers, no order ids) runs every step."""
    from recft_utils.datasets import load_interactions

    shop, _ = load_interactions("online-retail", max_customers=300, seed=3)
    csv = tmp_path / "shop.csv"
    shop.drop(columns=["order_id"]).to_csv(csv, index=False)
    run_dir = run_chain(profile="tiny", dataset=str(csv), run_dir=tmp_path / "run", progress=False)
    assert read_json(run_dir / "01_requirements" / "figures.json")["customers"] == 300
    figures = read_json(run_dir / "02_data_preparation" / "figures.json")
    assert figures["customers"] == 300 and figures["augmented_rows"] > 0
    assert read_json(run_dir / "01_requirements" / "protocol.json")["dataset"] == str(csv)
