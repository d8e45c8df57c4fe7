"""The model card and the datasheet, rendered from a run's artefacts (Jinja2 templates, Markdown and HTML).

Nothing in them is typed by hand: every figure is read from the files that
steps 1–4 wrote, or from the per-segment tables step 5 computes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from recft_utils.artefacts import atomic_path, read_json
from recft_utils.run import Run

TEMPLATES = Path(__file__).with_name("templates")

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


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


def markdown_table(frame: pd.DataFrame, digits: int = 3, index: bool = False) -> str:
    return frame.round(digits).to_markdown(index=index)


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def _common(run_dir) -> dict:
    protocol = Run(run_dir).protocol()
    return {"run_dir": str(run_dir), "generated": dt.date.today().isoformat(), "profile": protocol["profile"],
            "split": {**protocol, "test_end": protocol["test_end"][:10]}}


def datasheet(run_dir) -> str:
    """The dataset's datasheet (Markdown) from steps 1 and 2 of ``run_dir``."""
    run = Run(run_dir)
    data = {**run.figures("01_requirements"), **run.figures("02_data_preparation")}
    data["density_pct"] = _percent(data["density"])
    data["top10_share_pct"] = _percent(data["top10_item_share"])
    cleaning = pd.DataFrame(data["cleaning"])[["rule", "rows_removed", "rows_left"]]
    parts = pd.DataFrame(data["parts"]).T.rename_axis("part").reset_index()
    return _environment().get_template("datasheet.md.j2").render(
        **_common(run_dir), data=data, cleaning=markdown_table(cleaning), parts=markdown_table(parts))


def model_card(run_dir, segment_tables: dict[str, pd.DataFrame], buckets: pd.DataFrame, profile: dict,
               min_customers: int) -> str:
    """The served model's card (Markdown) from steps 1–4 of ``run_dir`` and step 5's segment results."""
    run = Run(run_dir)
    metadata = read_json(run.exported_model_dir() / "metadata.json")
    config = run.model_config()
    regime = config["fine_tuning"]["regime"]
    model = {**config, **metadata, "name": "recft two-tower recommender (text item tower)",
             "regime": "frozen" if regime == "frozen" else f"fine-tuned ({regime.replace('_', '-')})"}
    test = next(t for t in run.figures("01_requirements")["split"] if t["window"] == "test")
    overall = pd.DataFrame(run.figures("03_fine_tuning")["table"]).set_index("model")
    ab = run.read("04_serving", Run.AB_TEST) if run.path("04_serving", Run.AB_TEST).exists() else None
    replay = None if ab is None else (
        f"{_percent(ab['hit_rate_' + ab['a']])} against {_percent(ab['hit_rate_' + ab['b']])} for {ab['b']} "
        f"(difference {100 * ab['difference']:+.1f} points, 95 % interval {100 * ab['low']:+.1f} to "
        f"{100 * ab['high']:+.1f}, {ab['orders']} orders)")
    shown = {**profile, **{f"{key}_pct": _percent(profile[key])
                           for key in ("head_share_recommended", "head_share_purchased", "coverage")}}
    shown["novelty"] = f"{profile['novelty']:.2f}"
    return _environment().get_template("model_card.md.j2").render(
        **_common(run_dir), model=model, test=test, overall=markdown_table(overall, index=True),
        segments={name: markdown_table(table) for name, table in segment_tables.items()},
        buckets=markdown_table(buckets), recommendations=shown, replay=replay, min_customers=min_customers)


def write_document(markdown: str, path) -> tuple[Path, Path]:
    """Write ``path`` (.md) and the same document as HTML beside it, each atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(markdown)
    title = markdown.splitlines()[0].lstrip("# ").strip()
    html = HTML_PAGE.format(title=title, body=markdown_to_html(markdown))
    html_path = path.with_suffix(".html")
    with atomic_path(html_path) as tmp:
        tmp.write_text(html)
    return path, html_path


def markdown_to_html(markdown: str) -> str:
    """Markdown with tables to an HTML fragment (mistune, the parser nbconvert uses)."""
    import mistune

    return mistune.create_markdown(plugins=["table"])(markdown)
