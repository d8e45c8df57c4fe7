"""Parameterised stakeholder reports: one HTML page per segment value, without code, and an index.

Notebook 05 writes the per-customer tables a report reads
(``run_dir/05_collaboration/{customers, recommendations, purchases}.parquet``);
``recft_utils/reporting/segment_report.ipynb`` is executed by papermill once per
value (e.g. every country with enough customers) and rendered to HTML by
nbconvert with the code cells left out, several at a time in separate
processes. A failing value is reported in the index and does not stop the others.

Segment values come from the shop's data file and are data, never markup: the
report escapes them with :func:`~recft_utils.reporting.documents.markdown_value`,
the index with ``html.escape``, and file names are built from :func:`slug`.
"""

from __future__ import annotations

import hashlib
import html
import multiprocessing
import re
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.artefacts import atomic_path
from recft_utils.errors import ParameterError
from recft_utils.evaluation.segments import MIN_CUSTOMERS
from recft_utils.run import Run

# package data (pyproject.toml), so that an installed wheel runs the reports outside a checkout
REPORT_NOTEBOOK = Path(str(resources.files("recft_utils.reporting") / "segment_report.ipynb"))
SEGMENTS = ("country", "activity", "tenure")


def slug(value: str) -> str:
    """``value`` as a file-name part: lower-case ASCII letters, digits and single hyphens only."""
    return re.sub(r"[^A-Za-z0-9]+", "-", str(value)).strip("-").lower() or "value"


def page_names(segment: str, values) -> dict[str, str]:
    """The file name (without suffix) of each value's report: ``segment-slug``.

    Values that share a slug (``a|b`` and ``a b``, ``Germany`` and ``germany``,
    names without Latin letters) each get a short hash of the value as well, so
    that no segment's report overwrites another's.
    """
    slugs = {value: slug(value) for value in values}
    shared = Counter(slugs.values())
    return {
        value: f"{slug(segment)}-{name}" + (f"-{_digest(value)}" if shared[name] > 1 else "")
        for value, name in slugs.items()
    }


def _digest(value: str) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()[:8]


def load_inputs(run_dir) -> dict[str, pd.DataFrame]:
    """The tables notebook 05 wrote for the reports (see :meth:`Run.report_tables`)."""
    return Run(run_dir).report_tables()


def check_group_size(min_customers: int, allow_small_groups: bool = False) -> None:
    """Refuse a report threshold below the group-size rule (:data:`~recft_utils.evaluation.segments.MIN_CUSTOMERS`)
    unless explicitly allowed."""
    if min_customers < MIN_CUSTOMERS and not allow_small_groups:
        raise ParameterError(
            f"A report about fewer than {MIN_CUSTOMERS} customers describes individuals: --min-customers "
            f"{min_customers} is refused. Use {MIN_CUSTOMERS} or more, or pass --allow-small-groups "
            f"(allow_small_groups=True) if the reports stay with people allowed to see single customers' data."
        )


def segment_values(customers: pd.DataFrame, segment: str, min_customers: int = 1) -> list[str]:
    """Values of ``segment`` with at least ``min_customers`` evaluated customers, largest first."""
    if segment not in SEGMENTS:
        raise ParameterError(f"Unknown segment {segment!r}; use one of {', '.join(SEGMENTS)}.")
    counts = customers[segment].astype(str).value_counts()
    return list(counts[counts >= min_customers].index)


def check_values(customers: pd.DataFrame, segment: str, values) -> list[str]:
    known = set(segment_values(customers, segment))
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ParameterError(
            f"No evaluated customer has {segment} = {unknown}; known values: "
            f"{', '.join(sorted(known)[:20])}{' ...' if len(known) > 20 else ''}."
        )
    return list(values)


def report_value(customers: pd.DataFrame, segment: str, value: str = "") -> str:
    """The value a report is about: ``value`` (checked), or the segment's largest value when it is ""."""
    if value:
        return check_values(customers, segment, [value])[0]
    values = segment_values(customers, segment)
    if not values:
        raise ParameterError(f"No evaluated customer has a {segment}: there is no segment to report on.")
    return values[0]


def segment_summary(customers: pd.DataFrame, segment: str, value: str, bootstrap: int = 1000) -> pd.DataFrame:
    """The segment's customers against everyone: how many, and mean hit-rate, recall and NDCG@10 with intervals."""
    from recft_utils.evaluation.metrics import bootstrap_interval

    rows = []
    for label, group in (
        (f"{segment} = {value}", customers[customers[segment].astype(str) == value]),
        ("all customers", customers),
    ):
        row = {"customers": len(group)}
        for metric in ("hit", "recall", "ndcg"):
            low, high = bootstrap_interval(group[metric].to_numpy(), bootstrap)
            row[metric] = group[metric].mean()
            row[f"{metric} interval"] = f"{low:.3f}–{high:.3f}"
        rows.append(pd.Series(row, name=label))
    return pd.DataFrame(rows)


def top_items(table: pd.DataFrame, users, n: int = 10) -> pd.DataFrame:
    """The ``n`` items found for most of ``users`` in ``table`` (user_id, item_id, title), with that share."""
    rows = table[table["user_id"].isin(users)]
    counts = rows.groupby(["item_id", "title"]).size().sort_values(ascending=False, kind="stable").head(n)
    return (counts / max(len(set(users)), 1)).rename("share of customers").reset_index()


def bucket_shares(purchases: pd.DataFrame, users) -> pd.Series:
    """Share of the window's purchases of ``users`` in each item-popularity bucket."""
    mine = purchases[purchases["user_id"].isin(users)]
    return mine["bucket"].value_counts(normalize=True).reindex(["head", "torso", "tail", "new"], fill_value=0.0)


def render_html(notebook: Path, output: Path, title: str = "") -> Path:
    """The executed notebook as an HTML page without code cells (nbconvert), written atomically.

    ``title`` is the page's ``<title>`` (nbconvert escapes it); without it, the notebook's file name.
    """
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    resources = {"metadata": {"name": title or Path(notebook).stem}}
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4), resources=resources)
    with atomic_path(output) as tmp:
        tmp.write_text(body)
    return output


def _one_report(run_dir: Path, segment: str, value: str, name: str, out: Path, notebook: Path) -> dict:
    from recft_utils.notebook_execution import execute

    started = time.perf_counter()
    try:
        executed = execute(
            notebook,
            out / "notebooks" / f"{name}.ipynb",
            {"run_dir": str(run_dir), "segment": segment, "value": value},
            progress=False,
        )
        render_html(executed, out / f"{name}.html", title=f"Recommendations for {segment} = {value}")
        return {
            "value": value,
            "status": "ok",
            "page": f"{name}.html",
            "error": "",
            "seconds": time.perf_counter() - started,
        }
    except Exception as exc:  # one failing segment must not stop the others: report it
        return {
            "value": value,
            "status": "failed",
            "page": "",
            "error": str(exc).splitlines()[0],
            "seconds": time.perf_counter() - started,
        }


def run_reports(
    run_dir,
    segment: str = "country",
    values=None,
    min_customers: int = MIN_CUSTOMERS,
    workers: int = 2,
    out=None,
    progress: bool = True,
    notebook=REPORT_NOTEBOOK,
    allow_small_groups: bool = False,
) -> pd.DataFrame:
    """Execute and render one report per value of ``segment`` in parallel; write ``index.html``.

    ``values`` defaults to every value with at least ``min_customers`` evaluated
    customers; ``min_customers`` below the group-size rule (:data:`MIN_CUSTOMERS`), or a value asked for with
    fewer customers, is refused unless ``allow_small_groups``. Returns one row per
    value: status, page, error, seconds.
    """
    from tqdm import tqdm

    if segment not in SEGMENTS:  # before reading anything
        raise ParameterError(f"Unknown segment {segment!r}; use one of {', '.join(SEGMENTS)}.")
    check_group_size(min_customers, allow_small_groups)
    run_dir = Path(run_dir).resolve()  # papermill runs the report in notebooks/reports/
    customers = load_inputs(run_dir)["customers"]
    values = check_values(customers, segment, values) if values else segment_values(customers, segment, min_customers)
    small = {
        v: n for v, n in customers[segment].astype(str).value_counts().items() if v in values and n < MIN_CUSTOMERS
    }
    if small and not allow_small_groups:
        raise ParameterError(
            f"{segment} {', '.join(f'{v!r} ({n})' for v, n in small.items())}: fewer than "
            f"{MIN_CUSTOMERS} evaluated customers. Leave them out, or pass --allow-small-groups."
        )
    if not values:
        raise ParameterError(f"No {segment} has {min_customers} or more evaluated customers; lower --min-customers.")
    out = Path(out) if out is not None else Run(run_dir).path("05_collaboration", Run.REPORTS)
    out.mkdir(parents=True, exist_ok=True)
    names = page_names(segment, values)
    jobs = [(run_dir, segment, value, names[value], out, Path(notebook)) for value in values]
    bar = {"total": len(jobs), "desc": f"reports by {segment}", "disable": not progress}
    if min(workers, len(jobs)) == 1:  # one at a time: here, without the seconds a fresh process takes to start
        results = [_one_report(*job) for job in tqdm(jobs, **bar)]
    else:  # processes, not threads: papermill changes the working directory of its process while it runs
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = [
                future.result()
                for future in tqdm(as_completed([pool.submit(_one_report, *job) for job in jobs]), **bar)
            ]
    table = pd.DataFrame(results).set_index("value").loc[values].reset_index()
    write_index(out / "index.html", segment, table, customers)
    return table


def write_index(path: Path, segment: str, table: pd.DataFrame, customers: pd.DataFrame) -> Path:
    """A page linking every report, with its number of customers, and listing failures with their error.

    Every value written into the page (segment, values, pages, errors) is escaped: they are data.
    """
    counts = customers[segment].astype(str).value_counts()
    shown = html.escape(str(segment))
    items = []
    for row in table.itertuples():
        label = f"{html.escape(str(row.value))} ({counts.get(row.value, 0)} customers)"
        items.append(
            f'<li><a href="{html.escape(str(row.page))}">{label}</a></li>'
            if row.status == "ok"
            else f"<li>{label}: <strong>failed</strong>: {html.escape(str(row.error))}</li>"
        )
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Reports by {shown}</title></head>"
        f"<body style='font-family: system-ui, sans-serif; max-width: 50rem; margin: 2rem auto'>"
        f"<h1>Recommendation reports by {shown}</h1><p>{int((table['status'] == 'ok').sum())} of "
        f"{len(table)} reports written.</p><ul>{''.join(items)}</ul></body></html>"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page)
    return path


def report_tables(
    task, top: np.ndarray, scores: pd.DataFrame, segments: pd.DataFrame, titles: pd.Series
) -> dict[str, pd.DataFrame]:
    """What the reports read: per customer (scores and segments), their top-k, and the window's purchases.

    ``top`` and ``scores`` come from :func:`~recft_utils.evaluation.segments.top_k_lists` and
    :func:`~recft_utils.evaluation.segments.per_customer`.
    """
    from recft_utils.evaluation.segments import popularity_buckets

    customers = scores.join(segments, on="user_id")
    customers["activity"] = customers["activity"].astype(str)
    users = np.repeat(task.users[task.eval_rows], top.shape[1])
    ranks = np.tile(np.arange(1, top.shape[1] + 1), len(top))
    keep = top.ravel() >= 0
    items = task.items[top.ravel()[keep]]
    recommendations = pd.DataFrame(
        {
            "user_id": users[keep],
            "rank": ranks[keep],
            "item_id": items,
            "title": titles.reindex(items).fillna("").to_numpy(),
        }
    )
    bought = task.target[task.target["user_id"].isin(customers["user_id"])][["user_id", "item_id"]].drop_duplicates()
    before = set(zip(task.history["user_id"], task.history["item_id"]))
    bucket = popularity_buckets(task).set_axis(task.items)
    purchases = bought.assign(
        title=titles.reindex(bought["item_id"]).fillna("").to_numpy(),
        bucket=bucket.reindex(bought["item_id"]).to_numpy(),
        new_to_customer=[pair not in before for pair in zip(bought["user_id"], bought["item_id"])],
    )
    return {"customers": customers, "recommendations": recommendations, "purchases": purchases.reset_index(drop=True)}
