"""Cleaning Online Retail into purchase events, one documented rule at a time.

:func:`clean_online_retail` returns the cleaned interactions and a report of
how many rows each rule removed, in the order the rules run.
"""

from __future__ import annotations

import pandas as pd

# Product stock codes start with five digits (85123A); the rest are postage,
# manual adjustments, fees and samples (POST, M, D, C2, DOT, AMAZONFEE, ...).
PRODUCT_CODE = r"^\d{5}"


def _rules(raw: pd.DataFrame):
    """(name, why, mask of rows to drop) for each cleaning rule, in order."""
    invoice = raw["InvoiceNo"].astype(str)
    yield ("no customer", "a purchase we cannot attribute to anybody", raw["CustomerID"].isna())
    yield (
        "cancellation or adjustment invoice",
        "invoices starting with C (cancelled) or A (bad-debt adjustment) are not purchases",
        invoice.str.startswith(("C", "A")),
    )
    yield (
        "non-positive quantity or price",
        "returns, stock corrections and free samples",
        (raw["Quantity"] <= 0) | (raw["UnitPrice"] <= 0),
    )
    yield (
        "non-product stock code",
        "postage, fees and manual entries are not products to recommend",
        ~raw["StockCode"].astype(str).str.match(PRODUCT_CODE),
    )
    yield ("no description", "the text model needs a product text", raw["Description"].isna())


def resolve_descriptions(rows: pd.DataFrame) -> pd.Series:
    """One text per item: its description as first seen (the earliest sale; file order breaks a tie).

    Not the most frequent one: that is counted over the whole file, so a
    product renamed later would carry its later name into every earlier
    window, and a model of that window would read text from its future.
    """
    first = rows.assign(_order=range(len(rows))).sort_values(["InvoiceDate", "_order"], kind="stable")
    return first.drop_duplicates("StockCode").set_index("StockCode")["Description"]


def clean_online_retail(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn the raw UCI table into purchase events with the recft schema.

    Returns ``(interactions, report)``. ``report`` has one row per rule with
    ``rows_removed`` and ``rows_left``; its last row counts the items whose
    several descriptions were resolved to one (no row is removed there).
    """
    keep = pd.Series(True, index=raw.index)
    report = []
    for name, why, drop in _rules(raw):
        removed = int((keep & drop).sum())
        keep &= ~drop
        report.append({"rule": name, "why": why, "rows_removed": removed, "rows_left": int(keep.sum())})
    rows = raw[keep]
    texts = resolve_descriptions(rows)
    n_multi = int((rows.groupby("StockCode")["Description"].nunique() > 1).sum())
    report.append(
        {
            "rule": "several descriptions per item",
            "why": f"{n_multi} items changed name over time; each keeps its name as first seen "
            "(a later one would leak)",
            "rows_removed": 0,
            "rows_left": int(keep.sum()),
        }
    )
    interactions = pd.DataFrame(
        {
            "user_id": rows["CustomerID"].astype("int64").astype(str),
            "item_id": rows["StockCode"].astype(str),
            "timestamp": pd.to_datetime(rows["InvoiceDate"]),
            "item_text": rows["StockCode"].map(texts).str.strip(),
            "quantity": rows["Quantity"].astype("int64"),
            "price": rows["UnitPrice"].astype("float64"),
            "country": rows["Country"].astype(str),
            "order_id": rows["InvoiceNo"].astype(str),
        }
    ).reset_index(drop=True)
    return interactions, pd.DataFrame(report)


def rule_examples(raw: pd.DataFrame, per_rule: int = 3, seed: int = 0) -> pd.DataFrame:
    """A few raw rows each rule removes (rows no earlier rule removed), to see what goes."""
    keep = pd.Series(True, index=raw.index)
    shown = []
    for name, _, drop in _rules(raw):
        hit = raw[keep & drop]
        if len(hit):
            sample = hit.sample(min(per_rule, len(hit)), random_state=seed)
            shown.append(sample.assign(rule=name))
        keep &= ~drop
    columns = ["rule", "InvoiceNo", "StockCode", "Description", "Quantity", "UnitPrice", "CustomerID"]
    return pd.concat(shown)[columns].reset_index(drop=True) if shown else pd.DataFrame(columns=columns)
