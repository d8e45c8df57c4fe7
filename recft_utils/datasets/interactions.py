"""The interaction table every step works on, and bring-your-own data.

Schema (one row per purchased line):

========== ============== =============================================
column     type           meaning
========== ============== =============================================
user_id    str            customer
item_id    str            product
timestamp  datetime64     when it was bought
item_text  str            product title/description (the text model's input)
quantity   int            optional, default 1
price      float          optional, default NaN
country    str            optional, default "unknown"
order_id   str            optional, default user_id + timestamp
========== ============== =============================================

:func:`read_interactions_file` validates a CSV or parquet file up front and
names the file, row or column and the fix for each problem it finds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.errors import DatasetError

REQUIRED = ["user_id", "item_id", "timestamp", "item_text"]
OPTIONAL = {"quantity": 1, "price": np.nan, "country": "unknown"}
SUFFIXES = {".csv", ".parquet", ".pq"}


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        data = path.read_bytes()
        if not data.strip():
            raise DatasetError(f"{path} is empty: it needs a header line {','.join(REQUIRED)} and rows.")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(
                f"{path}, line {_line_of(data, exc.start)}: the text is not UTF-8 "
                f"(byte {data[exc.start]:#x}). Re-save the file as UTF-8 (e.g. "
                f"`iconv -f latin1 -t utf-8`)."
            ) from exc
        return pd.read_csv(
            path, dtype={"user_id": str, "item_id": str, "item_text": str}, keep_default_na=False, na_values=[""]
        )
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise DatasetError(f"{path} is not a readable parquet file ({exc}); export it again.") from exc


def _first_bad_row(path: Path, mask: pd.Series, column: str, frame: pd.DataFrame, fix: str):
    if mask.any():
        i = int(np.flatnonzero(mask.to_numpy())[0])
        where = f"line {i + 2}" if path.suffix.lower() == ".csv" else f"row {i}"
        raise DatasetError(
            f"{path}, {where}, column {column!r}: {frame[column].iloc[i]!r} {fix} ({int(mask.sum())} row(s) in all)."
        )


def validate_interactions(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Check a bring-your-own table and return it in the recft schema."""
    if frame.empty:
        raise DatasetError(f"{path} has a header but no rows: add interactions.")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path} lacks required column(s) {missing}; found {list(frame.columns)}. Rename your "
            f"columns to {REQUIRED} (optional: {list(OPTIONAL)})."
        )
    for column in ("user_id", "item_id", "item_text"):
        _first_bad_row(path, frame[column].isna(), column, frame, "is empty; every row needs one")
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce", format="mixed")
    _first_bad_row(
        path, stamps.isna(), "timestamp", frame, "is not a date/time; use ISO 8601 such as 2011-12-09 12:50:00"
    )
    out = pd.DataFrame(
        {
            "user_id": frame["user_id"].astype(str),
            "item_id": frame["item_id"].astype(str),
            "timestamp": stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps,
            "item_text": frame["item_text"].astype(str).str.strip(),
        }
    )
    for column, default in OPTIONAL.items():
        if column not in frame.columns:
            out[column] = default
            continue
        if column == "country":
            out[column] = frame[column].fillna(default).astype(str)
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        _first_bad_row(path, values.isna() & frame[column].notna(), column, frame, "is not a number")
        out[column] = values.fillna(default)
    out["quantity"] = out["quantity"].astype("int64")
    out["price"] = out["price"].astype("float64")
    out["order_id"] = (
        frame["order_id"].astype(str)
        if "order_id" in frame.columns
        else out["user_id"] + "@" + out["timestamp"].astype(str)
    )
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def read_interactions_file(path: str | Path) -> pd.DataFrame:
    """Read and validate a bring-your-own CSV or parquet file."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise DatasetError(f"{path}: unsupported file type {path.suffix!r}; give a .csv or .parquet file.")
    if not path.exists():
        raise DatasetError(f"{path} does not exist. Check the path given as dataset.")
    if path.stat().st_size == 0:
        raise DatasetError(f"{path} is empty: it needs a header line {','.join(REQUIRED)} and rows.")
    return validate_interactions(_read_table(path), path)


def sample_customers(interactions: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """Keep a seeded random sample of ``n`` customers (all when ``n`` is None)."""
    users = np.sort(interactions["user_id"].unique())
    if n is None or n >= len(users):
        return interactions
    chosen = np.random.default_rng(seed).choice(users, size=n, replace=False)
    return interactions[interactions["user_id"].isin(chosen)].reset_index(drop=True)
