"""The model card and the datasheet, rendered from a run's artefacts (Jinja2 templates, Markdown and HTML).

Nothing in them is typed by hand: every figure is read from the files that
steps 1–4 wrote, or from the per-segment tables step 5 computes.

Values that come from a run (countries, product titles, ids, model names) are
data, never markup: every ``{{ }}`` of a template is escaped with
:func:`markdown_value`, unless it is Markdown this module built from escaped
values (:class:`MarkdownText`: the tables, code spans).
"""

from __future__ import annotations

import datetime as dt
import html
import numbers
import re
from importlib import resources
from pathlib import Path

import pandas as pd

from recft_utils.artefacts import atomic_path, display_path
from recft_utils.evaluation.segments import MIN_CUSTOMERS
from recft_utils.run import Run
from recft_utils.serving.model_folder import check_folder

TEMPLATES = Path(str(resources.files("recft_utils.reporting") / "templates"))  # package data

HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }}
th {{ background: #f3f3f3; }} code {{ background: #f3f3f3; padding: 0 0.2rem; }}
</style></head><body>
{body}
</body></html>
"""


# Markdown punctuation that changes the structure anywhere in a line: emphasis, code, links, table
# cells, strike-through, headings (also a closing ``#``), Jupyter's $math$, and the escape itself.
_PUNCTUATION = re.compile(r"([\\`*_\[\]|~$#])")
# ... and what does only at the start of a line: an ordered item ("1. "), a list item or setext underline.
_ORDERED_ITEM = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_LINE_MARKER = re.compile(r"^([-+=])")


class MarkdownText(str):
    """Markdown built here from escaped values (a table, a code span): interpolated as it is."""


def markdown_value(value) -> str:
    """One data value as Markdown text that shows the value and nothing else.

    The value is put on one line (a newline could start a heading or end a
    table row); Markdown punctuation gets a backslash (``a|b`` stays one table
    cell, ``[x](javascript:...)`` is no link, ``# x`` no heading); ``<``, ``>``
    and ``&`` become HTML entities, which every Markdown renderer shows as
    text (a backslash before ``<`` is not understood by all). Safe anywhere in a
    paragraph, heading, list item or table cell, not inside a code span (see
    :func:`markdown_code`).
    """
    text = " ".join(str(value).split())
    text = _PUNCTUATION.sub(r"\\\1", text)
    text = _LINE_MARKER.sub(r"\\\1", _ORDERED_ITEM.sub(r"\1\\\2", text))
    return html.escape(text, quote=False)


def markdown_code(value) -> MarkdownText:
    """A value as a Markdown code span, fenced by more backticks than it holds in a row.

    Inside a code span nothing is markup and backslashes are shown as typed, so
    the value is only put on one line, not escaped.
    """
    text = " ".join(str(value).split())
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return MarkdownText(f"{fence}{pad}{text}{pad}{fence}")


def _finalize(value):
    """Every ``{{ }}`` of a template: built Markdown and numbers as they are, any other value escaped."""
    if isinstance(value, (MarkdownText, numbers.Number)):
        return value
    return markdown_value(value)


def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    environment.filters["code"] = markdown_code
    return environment


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _escaped(column: pd.Series) -> pd.Series:
    """A text (or category, or mixed) column's values escaped; missing values stay missing."""
    return column.astype(object).map(lambda v: v if pd.api.types.is_scalar(v) and pd.isna(v) else markdown_value(v))


def markdown_table(frame: pd.DataFrame, digits: int = 3, index: bool = False) -> MarkdownText:
    """``frame`` as a Markdown table: numbers rounded to ``digits``, labels and every other cell escaped."""
    shown = frame.round(digits)
    shown.columns = [markdown_value(name) for name in shown.columns]
    if index:
        name = shown.index.name
        shown.index = shown.index.map(markdown_value).rename(None if name is None else markdown_value(name))
    first = 1 if index else 0  # tabulate counts the index as column 0
    text = [first + position for position, (_, column) in enumerate(shown.items()) if not _is_number(column)]
    shown = shown.apply(lambda column: column if _is_number(column) else _escaped(column))
    # escaped text is text: tabulate must not turn "00123" or "1e5" in it into a number
    return MarkdownText(shown.to_markdown(index=index, disable_numparse=[0, *text] if index else text))


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def _common(run_dir) -> dict:
    protocol = Run(run_dir).protocol()
    return {
        "run_dir": display_path(run_dir),
        "generated": dt.date.today().isoformat(),
        "profile": protocol["profile"],
        "split": {**protocol, "test_end": protocol["test_end"][:10]},
    }


def datasheet(run_dir) -> str:
    """The dataset's datasheet (Markdown) from steps 1 and 2 of ``run_dir``."""
    run = Run(run_dir)
    data = {**run.figures("01_requirements"), **run.figures("02_data_preparation")}
    data["density_pct"] = _percent(data["density"])
    data["top10_share_pct"] = _percent(data["top10_item_share"])
    cleaning = pd.DataFrame(data["cleaning"])[["rule", "rows_removed", "rows_left"]]
    parts = pd.DataFrame(data["parts"]).T.rename_axis("part").reset_index()
    return (
        _environment()
        .get_template("datasheet.md.j2")
        .render(
            **_common(run_dir),
            data=data,
            cleaning=markdown_table(cleaning),
            parts=markdown_table(parts),
            min_group=MIN_CUSTOMERS,
        )
    )


def model_card(
    run_dir, segment_tables: dict[str, pd.DataFrame], buckets: pd.DataFrame, profile: dict, min_customers: int
) -> str:
    """The served model's card (Markdown) from steps 1–4 of ``run_dir`` and step 5's segment results."""
    run = Run(run_dir)
    metadata = check_folder(run.exported_model_dir())  # its checksums verified: the card describes that model
    config = run.model_config()
    regime = config["fine_tuning"]["regime"]
    choice = run.read("03b_fine_tuning", Run.SERVED_CHOICE)
    model = {
        **config,
        **metadata,
        "name": metadata.get("model") or "recft two-tower recommender (text item tower)",
        "regime": "frozen" if regime == "frozen" else f"fine-tuned ({regime.replace('_', '-')})",
        "rule": choice.get("sentence"),
        "blend": metadata.get("blend"),
        "stored_history": metadata.get("stored_history", config["max_history"]),
    }
    test = next(t for t in run.figures("01_requirements")["split"] if t["window"] == "test")
    overall = pd.DataFrame(run.figures("03b_fine_tuning")["table"]).set_index("model")
    ab = (
        run.read("04_serving", Run.REPLAY_COMPARISON)
        if run.path("04_serving", Run.REPLAY_COMPARISON).exists()
        else None
    )
    replay = (
        None
        if ab is None
        else (
            f"{_percent(ab['hit_rate_' + ab['a']])} against {_percent(ab['hit_rate_' + ab['b']])} for {ab['b']} "
            f"(difference {100 * ab['difference']:+.1f} points, 95 % interval {100 * ab['low']:+.1f} to "
            f"{100 * ab['high']:+.1f}, {ab['orders']} orders)"
        )
    )
    shown = {
        **profile,
        **{
            f"{key}_pct": _percent(profile[key])
            for key in ("head_share_recommended", "head_share_purchased", "coverage")
        },
    }
    shown["novelty"] = f"{profile['novelty']:.2f}"
    return (
        _environment()
        .get_template("model_card.md.j2")
        .render(
            **_common(run_dir),
            model=model,
            test=test,
            overall=markdown_table(overall, index=True),
            segments={name: markdown_table(table) for name, table in segment_tables.items()},
            buckets=markdown_table(buckets),
            recommendations=shown,
            replay=replay,
            min_customers=min_customers,
            min_group=MIN_CUSTOMERS,
        )
    )


def write_document(markdown: str, path) -> tuple[Path, Path]:
    """Write ``path`` (.md) and the same document as HTML beside it, each atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(markdown)
    page = HTML_PAGE.format(title=html_title(markdown), body=markdown_to_html(markdown))
    html_path = path.with_suffix(".html")
    with atomic_path(html_path) as tmp:
        tmp.write_text(page)
    return path, html_path


def html_title(markdown: str) -> str:
    """The text of the document's first line (its heading), escaped for a ``<title>``.

    Rendered first, so that Markdown escapes are not shown; then tags removed
    and the text escaped again: whatever the heading holds, the title is text.
    """
    heading = markdown_to_html(markdown.lstrip().splitlines()[0] if markdown.strip() else "")
    return html.escape(html.unescape(re.sub(r"<[^>]*>", "", heading)).strip())


def markdown_to_html(markdown: str) -> str:
    """Markdown with tables to an HTML fragment (mistune, the parser nbconvert uses).

    ``escape=False`` keeps the HTML entities of :func:`markdown_value` as
    entities (with escaping on, mistune shows ``&lt;`` as the five characters);
    the templates hold no raw HTML, and values reach them escaped.
    """
    import mistune

    return mistune.create_markdown(escape=False, plugins=["table"])(markdown)
