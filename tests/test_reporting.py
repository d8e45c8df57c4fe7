"""Values from a shop's file are data, never markup: the model card, the datasheet, the segment reports and
their index show hostile countries, titles and ids as text (tables built by hand, no model)."""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest
from html_check import live_markup, page_text, tables

from recft_utils.errors import ParameterError
from recft_utils.reporting.documents import (
    datasheet,
    html_title,
    markdown_code,
    markdown_table,
    markdown_to_html,
    markdown_value,
    model_card,
    write_document,
)
from recft_utils.reporting.reports import page_names, report_value, write_index
from recft_utils.run import Run
from recft_utils.serving.model_folder import FORMAT

HOSTILE = [
    "<b onmouseover=alert(3)>Germany</b>",
    "<script>alert(1)</script>",
    "a|b",
    "# heading",
    "[link](javascript:alert(1))",
]
# what else could change the structure: emphasis, code, math, an ordered item, an entity, a backslash
AWKWARD = ["*bold* _it_", "`tick`", "$5 and $10", "1. first", "- item", "AT&amp;T", "back\\slash", "tail #"]
# the tags the Markdown renderers make of the documents (and nbconvert's heading anchor, <a>)
MARKDOWN_TAGS = {
    "h1",
    "h2",
    "p",
    "em",
    "strong",
    "code",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "br",
}
DOCUMENT_TAGS = MARKDOWN_TAGS | {"html", "head", "meta", "title", "style", "body"}
INDEX_TAGS = {"html", "head", "meta", "title", "body", "h1", "p", "ul", "li", "a", "strong"}


def jupyter_html(markdown: str) -> str:
    """Markdown as Jupyter shows it: nbconvert's renderer, which passes raw HTML through (as
    notebook 05's ``Markdown(...)`` display does)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(markdown)


def title_of(page: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1)).strip()


# --- a data value into Markdown -------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE + AWKWARD)
@pytest.mark.parametrize("render", [markdown_to_html, jupyter_html], ids=["documents", "jupyter"])
def test_a_value_in_markdown_is_shown_as_text(value, render):
    shown = markdown_value(value)
    page = render(f"# Report for {shown}\n\n{shown}\n\n| country | n |\n|---|---|\n| {shown} | 1 |\n")
    assert live_markup(page, MARKDOWN_TAGS) == []
    assert page_text(page).count(value) == 3  # heading, paragraph, cell: all of it, and nothing of it as markup
    assert tables(page) == [[["country", "n"], [value, "1"]]]  # a | stays inside its cell
    assert re.findall(r"<(\w+)", page)[0] == "h1" and page.count("<h1") == 1
    assert "<ol" not in page and "<ul" not in page and "<em" not in page and "<code" not in page


def test_a_value_is_one_line_and_starts_no_block():
    assert markdown_value("Germany\n# heading\n|x|") == r"Germany \# heading \|x\|"
    assert [markdown_value(v) for v in ("- item", "+ item", "===", "1. first", "2) b")] == [
        r"\- item",
        r"\+ item",
        r"\===",
        r"1\. first",
        r"2\) b",
    ]
    assert markdown_value("1.5 kg") == "1.5 kg" and markdown_value("United Kingdom") == "United Kingdom"


@pytest.mark.parametrize("value", ["`tick`", "a``b", "<script>alert(1)</script>", "x_y|z"])
def test_a_code_span_shows_the_value_as_typed(value):
    page = jupyter_html(f"version {markdown_code(value)}")
    assert live_markup(page, MARKDOWN_TAGS) == []
    assert re.search(r"<code>(.*?)</code>", page).group(1) == html.escape(value, quote=False)


def test_markdown_table_escapes_labels_and_cells():
    frame = pd.DataFrame(
        {
            "country": HOSTILE,
            "customers": range(5),
            "ndcg": [0.12345] * 5,
            "too_small": [True] * 5,
            "bin": pd.Categorical(["(2, 5]"] * 5),
        }
    )
    [rows] = tables(markdown_to_html(markdown_table(frame)))
    assert rows[0] == ["country", "customers", "ndcg", "too_small", "bin"]
    assert rows[1:] == [[value, str(n), "0.123", "True", "(2, 5]"] for n, value in enumerate(HOSTILE)]
    by_model = pd.DataFrame({"ndcg": [0.5, 0.25]}, index=pd.Index(["a|b", "00123"], name="<i>model</i>"))
    assert tables(jupyter_html(markdown_table(by_model, index=True))) == [
        [["<i>model</i>", "ndcg"], ["a|b", "0.5"], ["00123", "0.25"]]
    ]  # "00123" is an id, not a number


def test_the_html_title_is_the_headings_text():
    assert (
        html_title("# Report for " + markdown_value(HOSTILE[0]) + "\n\nbody")
        == "Report for &lt;b onmouseover=alert(3)&gt;Germany&lt;/b&gt;"
    )
    assert html_title("# <script>alert(1)</script> *x*\n") == "alert(1) x"  # raw HTML in a heading: text


# --- the model card and the datasheet -------------------------------------------------------------


def finished(run: Run, step: str, files: dict) -> None:
    """Write ``files`` (JSON) into ``step`` of ``run`` and mark it complete."""
    folder = run.path(step)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(content))
    run.finish(step, {"profile": "tiny"})


def hostile_run(folder) -> Run:
    """Steps 01-04 of a run, by hand, with a hostile value wherever a string from data or a model can be."""
    run = Run(folder)
    protocol = {
        "profile": "tiny",
        "valid_start": "2011-10-10",
        "test_start": "2011-11-09",
        "test_end": "2011-12-09T12:50:00",
        "test_days": 30,
    }
    split = [
        {
            "window": "test",
            "window_interactions": 100,
            "evaluated_customers": 40,
            "cold_items": 3,
            "catalogue_items": 50,
            "history_interactions": 900,
            "customers_with_history": 60,
        }
    ]
    finished(
        run,
        "01_requirements",
        {Run.PROTOCOL: protocol, Run.FIGURES: {"first_day": "2010-12-01", "last_day": "2011-12-09", "split": split}},
    )
    finished(
        run,
        "02_data_preparation",
        {
            Run.FIGURES: {
                "interactions": 1000,
                "orders": 200,
                "customers": 60,
                "countries": 5,
                "items": 50,
                "density": 0.01,
                "top10_item_share": 0.2,
                "augmented_rows": 0,
                "cleaning": [{"rule": value, "rows_removed": 1, "rows_left": 10} for value in HOSTILE],
                "parts": {value: {"interactions": 10, "customers": 2} for value in HOSTILE},
            }
        },
    )
    finished(run, "03a_two_tower", {Run.FIGURES: {"blend_weight": 0.5}})
    finished(
        run,
        "03b_fine_tuning",
        {
            Run.FIGURES: {"table": [{"model": value, "ndcg": 0.1} for value in HOSTILE]},
            Run.MODEL_CONFIG: {
                "fine_tuning": {"regime": HOSTILE[1]},
                "dim": 64,
                "max_history": 20,
                "popularity_days": 30,
                "learning_rate": 0.001,
                "dropout": 0.2,
                "l2": 1e-5,
                "epochs": 3,
            },
            Run.SERVED_CHOICE: {"regime": "blend", "model": HOSTILE[1], "sentence": f"Step 4 serves {HOSTILE[3]}."},
        },
    )
    a, b = HOSTILE[0], HOSTILE[4]
    finished(
        run,
        "04_serving",
        {
            f"{Run.EXPORTED_MODEL}/metadata.json": {
                "format": FORMAT,  # a model folder without files: nothing to checksum
                "files": {},
                "version": "v1-`tick`-<i>x</i>",
                "exported_at": HOSTILE[3],
                "as_of": HOSTILE[2],
                "items": 50,
                "customers": 60,
                "blend": {
                    "weight": 0.6,
                    "classical_weight": 0.4,
                    "item_model": HOSTILE[2],
                    "classical": HOSTILE[3],
                    "popularity_days": 14,
                    "model": HOSTILE[1],
                },
            },
            Run.REPLAY_COMPARISON: {
                "a": a,
                "b": b,
                f"hit_rate_{a}": 0.1,
                f"hit_rate_{b}": 0.05,
                "difference": 0.05,
                "low": 0.01,
                "high": 0.09,
                "orders": 80,
            },
        },
    )
    return run


def hostile_segments() -> dict[str, pd.DataFrame]:
    rows = {
        "customers": [40, 35, 20, 10, 5],
        "ndcg": 0.1,
        "low": 0.05,
        "high": 0.15,
        "too_small": [False, False, True, True, True],
    }
    return {
        "country": pd.DataFrame({"country": HOSTILE, **rows}),
        "activity": pd.DataFrame({"activity": pd.Categorical(AWKWARD[:5], ordered=True), **rows}),
    }


@pytest.fixture
def documents(tmp_path):
    """The model card and the datasheet of a hostile run, written; its folder's name is hostile too."""
    run = hostile_run(tmp_path / "run <b onmouseover=alert(3)>x<b> a|b `tick`")
    buckets = pd.DataFrame({"bucket": ["head", "tail"], "items": [5, 45], "purchases": [60, 40], "recall": [0.3, 0.1]})
    profile = {"head_share_recommended": 0.5, "head_share_purchased": 0.3, "coverage": 0.4, "novelty": 5.0}
    out = run.path("05_collaboration")
    out.mkdir(parents=True)
    card = write_document(model_card(run.folder, hostile_segments(), buckets, profile, 30), out / "model_card.md")
    sheet = write_document(datasheet(run.folder), out / "datasheet.md")
    return {"model_card": card, "datasheet": sheet}


@pytest.mark.parametrize("name", ["model_card", "datasheet"])
def test_documents_show_hostile_values_as_text(documents, name):
    markdown_path, html_path = documents[name]
    page = html_path.read_text()
    assert live_markup(page, DOCUMENT_TAGS) == []
    # notebook 05 shows the Markdown itself: it must be as inert in Jupyter as the page is
    assert live_markup(jupyter_html(markdown_path.read_text()), MARKDOWN_TAGS) == []
    text = page_text(page)
    assert all(value in text for value in HOSTILE) and "x<b> a|b `tick`" in text  # shown, as typed
    for found in (tables(page), tables(jupyter_html(markdown_path.read_text()))):
        assert found and all(len(row) == len(table[0]) for table in found for row in table)  # no | split a cell
    expected = {
        "model_card": "Model card: recft two-tower recommender (text item tower)",
        "datasheet": "Datasheet: UCI Online Retail, as used by recft",
    }[name]
    assert title_of(page) == expected
    assert "built-in method" not in text  # a key named like a dict method (items) is read as the key


def test_the_datasheet_counts_products(documents):
    assert "60 customers in 5 countries, 50 products." in page_text(documents["datasheet"][1].read_text())


def test_the_model_cards_tables_keep_their_shape(documents):
    found = tables(documents["model_card"][1].read_text())
    by_country = next(table for table in found if table[0][0] == "country")
    assert [row[0] for row in by_country[1:]] == HOSTILE  # one row each, the value intact
    overall = next(table for table in found if table[0][0] == "model")
    assert [row[0] for row in overall[1:]] == HOSTILE  # model names too (the index of a table)
    assert "v1-`tick`-<i>x</i>" in documents["model_card"][0].read_text()  # the version as typed, in a code span


# --- the index of the segment reports -------------------------------------------------------------


def test_page_names_are_safe_and_unique():
    values = ["United Kingdom", *HOSTILE, "a b", "A|B", "Україна", "Ελλάδα"]
    names = page_names("country", values)
    assert names["United Kingdom"] == "country-united-kingdom"
    assert names["<b onmouseover=alert(3)>Germany</b>"] == "country-b-onmouseover-alert-3-germany-b"
    assert all(re.fullmatch(r"[a-z0-9-]+", name) for name in names.values())
    assert len(set(names.values())) == len(values)  # "a|b", "a b" and "A|B" do not overwrite each other
    assert page_names("country", ["a|b"]) == {"a|b": "country-a-b"}  # a hash only where slugs collide


def test_the_index_shows_values_and_errors_as_text(tmp_path):
    segment = "<i onmouseover=alert(2)>country</i>"  # write_index takes any segment: escaped as well
    customers = pd.DataFrame({segment: HOSTILE * 3})
    names = page_names(segment, HOSTILE)
    table = pd.DataFrame(
        {
            "value": HOSTILE,
            "status": ["ok", "failed"] * 2 + ["ok"],
            "page": [f"{names[v]}.html" for v in HOSTILE],
            "error": ["", "<script>alert(4)</script>", "", "[x](javascript:alert(5))", ""],
        }
    )
    page = write_index(tmp_path / "index.html", segment, table, customers).read_text()
    assert live_markup(page, INDEX_TAGS) == []
    assert title_of(page) == f"Reports by {segment}"
    text = page_text(page)
    assert f"Recommendation reports by {segment}" in text and "3 of 5 reports written" in text
    assert all(f"{value} (3 customers)" in text for value in HOSTILE)
    assert "<script>alert(4)</script>" in text and "[x](javascript:alert(5))" in text
    assert all(re.fullmatch(r"[a-z0-9-]+\.html", href) for href in re.findall(r'href="([^"]*)"', page))


# --- the report's value ---------------------------------------------------------------------------


def test_an_empty_value_means_the_segments_largest():
    customers = pd.DataFrame({"country": ["a|b"] * 2 + [HOSTILE[0]] * 3 + ["EIRE"]})
    assert report_value(customers, "country") == HOSTILE[0]
    assert report_value(customers, "country", "a|b") == "a|b"
    with pytest.raises(ParameterError, match="No evaluated customer has country"):
        report_value(customers, "country", "United Kingdom")
    with pytest.raises(ParameterError, match="Unknown segment"):
        report_value(customers, "<b>")


# --- the segment reports themselves (papermill and nbconvert: seconds per report) ------------------

# nbconvert's own page: its template (scripts for MathJax and require.js, output areas) and what pandas
# tables and matplotlib figures are made of; a planted "alert(" must not be inside any of its scripts
NBCONVERT_TAGS = DOCUMENT_TAGS | {"script", "link", "main", "div", "span", "img", "pre"}


def report_tables(run: Run) -> None:
    """Step 05's tables for the reports, hostile countries, titles and ids (3 customers for "a|b")."""
    countries = [HOSTILE[0]] * 6 + [HOSTILE[1]] * 4 + ["a|b"] * 3
    users = [f"u{n}" for n in range(len(countries))]
    customers = pd.DataFrame(
        {
            "user_id": users,
            "hit": [1.0, 0.0] * 6 + [1.0],
            "recall": 0.5,
            "ndcg": 0.25,
            "country": countries,
            "activity": "1",
            "tenure": "returning",
        }
    )
    items = pd.DataFrame(
        {
            "item_id": ["# heading", "[link](javascript:alert(1))", "a|b"],
            "title": ["<script>alert(1)</script>", "<b onmouseover=alert(3)>mug</b>", "`tick` *x* $5 and $10"],
        }
    )
    recommendations = pd.concat([items.assign(user_id=user, rank=range(1, 4)) for user in users], ignore_index=True)
    purchases = (
        items.head(2)
        .merge(pd.DataFrame({"user_id": users}), how="cross")
        .assign(bucket=["head", "tail"] * len(users), new_to_customer=True)
    )
    out = run.path("05_collaboration")
    out.mkdir(parents=True, exist_ok=True)
    for name, table in {"customers": customers, "recommendations": recommendations, "purchases": purchases}.items():
        table.to_parquet(out / f"{name}.parquet")


@pytest.mark.integration
def test_segment_reports_show_hostile_values_as_text(tmp_path):
    from recft_utils.notebook_execution import execute
    from recft_utils.reporting.reports import REPORT_NOTEBOOK, run_reports

    run = hostile_run(tmp_path / "run")
    report_tables(run)
    values = HOSTILE[:2]
    with pytest.raises(ParameterError, match="fewer than 30 evaluated customers"):  # a few made-up customers each
        run_reports(run.folder, "country", values, out=tmp_path / "reports", progress=False)
    table = run_reports(
        run.folder, "country", values, out=tmp_path / "reports", workers=2, progress=False, allow_small_groups=True
    )
    assert list(table["status"]) == ["ok", "ok"], table["error"].tolist()
    for value, page_name in zip(values, table["page"]):
        page = (tmp_path / "reports" / page_name).read_text()
        assert live_markup(page, NBCONVERT_TAGS, markers=("alert(",)) == []
        text = page_text(page)
        assert f"Recommendations for customers with country = {value}" in text and "reports.load_inputs" not in text
        assert "<script>alert(1)</script>" in text and "# heading" in text  # a title and an id, as text
        assert "tex2jax_ignore" in page  # the tables' $ are text for MathJax too
        assert title_of(page) == f"Recommendations for country = {value}"
    index = (tmp_path / "reports" / "index.html").read_text()
    assert live_markup(index, INDEX_TAGS) == [] and all(f"{value} (" in page_text(index) for value in values)
    # without a value, the report is about the segment's largest one
    executed = execute(REPORT_NOTEBOOK, tmp_path / "default.ipynb", {"run_dir": str(run.folder)}, progress=False)
    shown = json.loads(executed.read_text())["cells"]
    heading = next(
        out["data"]["text/markdown"]
        for cell in shown
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
        if "text/markdown" in out.get("data", {})
    )
    heading = "".join(heading)
    assert heading.startswith(f"# Recommendations for customers with country = {markdown_value(HOSTILE[0])}\n")
