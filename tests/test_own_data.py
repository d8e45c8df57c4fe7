"""A shop's own data: the whole tiny chain on a bring-your-own file from other years, with hostile values.

The file is built from the mirror as another shop's export would differ from it: every date nine years
earlier (whole weeks, so weekdays keep their meaning), every id recoded, the optional ``order_id`` column
dropped, and markup in titles, countries and ids. Nothing may depend on 2011 and no value may become live
HTML in anything the run writes.
"""

import json

import pandas as pd
import pytest

from recft_utils.artefacts import read_json
from recft_utils.config import get_profile
from recft_utils.runner import run_chain

# tags and attributes that would run or render if a value reached HTML unescaped
HOSTILE = {
    "country": "<b onmouseover=alert(3)>Atlantis</b>",
    "second_country": "<img src=x onerror=alert(2)>",
    "title": " <script>alert(1)</script>",
    "item": "<i>SKU-{:05d}</i>",
}
LIVE = ("<b onmouseover", "<img src=x", "<script>alert", "<i>SKU-")
YEARS_BACK = pd.Timedelta(weeks=52 * 9)


def other_shop_export(shop: pd.DataFrame) -> pd.DataFrame:
    """``shop`` moved nine years back, recoded, without ``order_id``, with markup in its values."""
    shop = shop.drop(columns=["order_id"]).copy()
    shop["timestamp"] = shop["timestamp"] - YEARS_BACK
    shop["user_id"] = "shopper-" + pd.Series(pd.factorize(shop["user_id"])[0], index=shop.index).astype(str)
    top = shop["item_id"].isin(shop["item_id"].value_counts().index[:30])  # what reports and tables show
    codes = pd.factorize(shop["item_id"])[0]
    shop["item_id"] = [(HOSTILE["item"] if marked else "SKU-{:05d}").format(c) for marked, c in zip(top, codes)]
    shop.loc[top, "item_text"] = shop.loc[top, "item_text"] + HOSTILE["title"]
    countries = shop["country"].value_counts().index
    shop["country"] = shop["country"].replace(
        {countries[0]: HOSTILE["country"], countries[1]: HOSTILE["second_country"]}
    )
    return shop


def live_markup_in(run_dir) -> list[str]:
    """Every HTML or Markdown file the run wrote, and every HTML/Markdown output of its executed notebooks,
    that holds one of the hostile values unescaped."""
    found = []
    for path in run_dir.rglob("*"):
        if path.suffix in (".html", ".md"):
            found += [f"{path}: {tag}" for tag in LIVE if tag in path.read_text()]
        elif path.suffix == ".ipynb":
            for cell in json.loads(path.read_text())["cells"]:
                for output in cell.get("outputs", []):
                    for kind in ("text/html", "text/markdown"):
                        text = "".join(output.get("data", {}).get(kind, ""))
                        found += [f"{path.name}, {kind}: {tag}" for tag in LIVE if tag in text]
    return found


@pytest.mark.notebooks
def test_the_chain_runs_on_another_shop_s_export_and_writes_no_live_markup(mirror_root, tmp_path):
    from recft_utils.datasets import load_interactions

    customers = get_profile("tiny").max_customers  # the whole file is the tiny profile's sample
    shop, _ = load_interactions("online-retail", max_customers=customers, seed=3)
    export = other_shop_export(shop)
    csv = tmp_path / "other_shop.csv"
    export.to_csv(csv, index=False)
    run_dir = run_chain(profile="tiny", dataset=str(csv), run_dir=tmp_path / "run", progress=False)

    assert read_json(run_dir / "01_requirements" / "figures.json")["customers"] == customers
    figures = read_json(run_dir / "02_data_preparation" / "figures.json")
    assert figures["customers"] == customers and figures["augmented_rows"] > 0
    protocol = read_json(run_dir / "01_requirements" / "protocol.json")
    assert protocol["dataset"] == str(csv)
    assert pd.Timestamp(protocol["test_start"]).year == (shop["timestamp"].max() - YEARS_BACK).year
    months = read_json(run_dir / "06_iteration" / "decisions.json")
    assert all(pd.Timestamp(m["month"]) < shop["timestamp"].min() for m in months)  # step 6 moved with the data
    reports = list((run_dir / "05_collaboration" / "reports").glob("*.html"))
    assert len(reports) >= 2  # the index and the hostile largest country's page
    assert live_markup_in(run_dir) == []
