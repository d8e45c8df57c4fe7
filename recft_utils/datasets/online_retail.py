"""UCI Online Retail (dataset 352): fetch, verify, convert, cache.

Where the data comes from, in order:

1. ``$RECFT_DATA_MIRROR/online_retail/online_retail.parquet`` when the
   environment variable is set (CI and air-gapped workshop rooms);
2. the parquet cached in the data home (``$RECFT_DATA_HOME``, default the
   user's cache folder) by an earlier download;
3. the canonical archive from UCI, downloaded with a verified hash (pooch),
   converted once from xlsx to parquet and cached.

Whatever the source, :func:`check_content` compares the table with the facts
of the complete dataset and refuses a truncated or wrong file.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.artefacts import atomic_path, sha256_file
from recft_utils.config import data_home
from recft_utils.errors import DatasetError

NAME = "online_retail"
ARCHIVE_URL = "https://archive.ics.uci.edu/static/public/352/online+retail.zip"
# sha256 of the UCI archive as published by an independent project that pins it;
# the content check below is the second, independent line of defence.
ARCHIVE_SHA256 = "f5385cbb54bbebf7196389109c6b0621faab0c304e3702548165e71c84aede8b"
ARCHIVE_MEMBER = "Online Retail.xlsx"
PARQUET_NAME = "online_retail.parquet"
LICENCE = "CC BY 4.0"
DOI = "10.24432/C5BW33"
CITATION = (
    "Chen, D., Sain, S. L., Guo, K. (2012). Data mining for the online retail industry: "
    "a case study of RFM model-based customer segmentation using data mining. Journal of "
    "Database Marketing and Customer Strategy Management 19(3), 197-208."
)
COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


@dataclass(frozen=True)
class DatasetFacts:
    """What a complete copy must show (the mirror README's checks)."""

    rows: int = 541_909
    invoices: int = 25_900
    stock_codes: int = 4_070
    revenue: float = 9_747_747.934  # sum(Quantity * UnitPrice), 3 decimals


FACTS = DatasetFacts()


def mirror_path() -> Path | None:
    """The mirror's parquet when ``$RECFT_DATA_MIRROR`` is set, else None."""
    mirror = os.environ.get("RECFT_DATA_MIRROR")
    if not mirror:
        return None
    root = Path(mirror).expanduser()
    if not root.is_dir():
        raise DatasetError(
            f"RECFT_DATA_MIRROR={mirror} is not a directory. Point it at a folder laid out like "
            f"shared/datasets (holding online_retail/{PARQUET_NAME}), or unset it to download."
        )
    path = root / NAME / PARQUET_NAME
    if not path.exists():
        raise DatasetError(
            f"The mirror {root} has no {NAME}/{PARQUET_NAME}. Copy the dataset there, fix "
            f"RECFT_DATA_MIRROR, or unset it to download from {ARCHIVE_URL}."
        )
    return path


def check_mirror_checksum(path: Path) -> None:
    """Refuse a mirror file whose sha256 differs from the mirror's ``SHA256SUMS`` (when it has one)."""
    sums = path.parent / "SHA256SUMS"
    if not sums.exists():
        return
    expected = {
        parts[-1]: parts[0] for parts in (line.split() for line in sums.read_text().splitlines()) if len(parts) == 2
    }
    if path.name in expected and sha256_file(path) != expected[path.name]:
        raise DatasetError(
            f"Wrong checksum: {path} does not match its SHA256SUMS. The copy is corrupt or "
            f"was changed; copy it again from a good mirror."
        )


def check_mirror() -> None:
    """Seconds-cheap checks of a configured mirror: it exists, its checksum, its parquet footer."""
    path = mirror_path()
    if path is None:
        return
    check_mirror_checksum(path)
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception as exc:
        raise DatasetError(f"{path} is not a readable parquet file ({exc}). Copy it again from a good mirror.") from exc


def check_content(raw: pd.DataFrame, source: str, facts: DatasetFacts = FACTS) -> pd.DataFrame:
    """Refuse a table that is not the complete dataset; return it unchanged."""
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DatasetError(f"{source} lacks column(s) {missing}: it is not UCI Online Retail.")
    revenue = round(float(np.sum(raw["Quantity"].to_numpy() * raw["UnitPrice"].to_numpy())), 3)
    seen = {
        "rows": len(raw),
        "invoices": raw["InvoiceNo"].nunique(),
        "stock_codes": raw["StockCode"].nunique(),
        "revenue": revenue,
    }
    wrong = {
        key: (value, getattr(facts, key))
        for key, value in seen.items()
        if not np.isclose(value, getattr(facts, key), rtol=0, atol=1e-3)
    }
    if wrong:
        detail = ", ".join(f"{k}: found {v[0]:,} expected {v[1]:,}" for k, v in wrong.items())
        raise DatasetError(
            f"{source} is not a complete copy of Online Retail ({detail}). It is truncated or "
            f"altered: delete it and fetch it again (`recft doctor` shows where it lives)."
        )
    return raw


def read_checked_parquet(path: Path) -> pd.DataFrame:
    """The parquet file as a DataFrame, or a :class:`DatasetError` naming the damaged file."""
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DatasetError(
            f"{path} is not a readable parquet file ({type(exc).__name__}: {exc}). Delete it and fetch the data again."
        ) from exc


def normalise_types(raw: pd.DataFrame) -> pd.DataFrame:
    """Give an xlsx-read table the mirror's column types."""
    out = raw[COLUMNS].copy()
    for column in ("InvoiceNo", "StockCode"):
        out[column] = out[column].astype(str).str.strip()
    out["Description"] = raw["Description"].map(lambda v: None if pd.isna(v) else str(v))
    out["Quantity"] = out["Quantity"].astype("int64")
    out["InvoiceDate"] = pd.to_datetime(out["InvoiceDate"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    out["UnitPrice"] = out["UnitPrice"].astype("float64")
    out["CustomerID"] = out["CustomerID"].astype("float64")
    out["Country"] = out["Country"].astype(str)
    return out


def convert_archive(archive: Path) -> pd.DataFrame:
    """Read ``Online Retail.xlsx`` out of the UCI zip into the mirror's schema."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            if ARCHIVE_MEMBER not in bundle.namelist():
                raise DatasetError(
                    f"{archive} holds {bundle.namelist()}, not {ARCHIVE_MEMBER!r}: it is not the "
                    f"UCI Online Retail archive. Delete it and download again."
                )
            with bundle.open(ARCHIVE_MEMBER) as sheet:
                raw = pd.read_excel(sheet, engine="openpyxl", dtype={"InvoiceNo": str, "StockCode": str})
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{archive} is not a valid zip archive: delete it and download again.") from exc
    # Checked here because normalise_types would otherwise fail with a bare KeyError.
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DatasetError(
            f"{ARCHIVE_MEMBER} in {archive} lacks column(s) {missing}: it is not UCI Online "
            f"Retail. Delete the archive and download again."
        )
    return normalise_types(raw)


def fetch_archive(url: str = ARCHIVE_URL, known_hash: str | None = ARCHIVE_SHA256, folder: Path | None = None) -> Path:
    """Download the archive with pooch, verified against ``known_hash``.

    pooch writes to a temporary file and renames it only after the hash
    matched, so an interrupted or corrupted download leaves nothing behind.
    """
    import pooch
    import requests

    folder = Path(folder or data_home())
    try:
        path = pooch.retrieve(
            url,
            known_hash=f"sha256:{known_hash}" if known_hash else None,
            fname="online_retail.zip",
            path=folder,
            progressbar=True,
        )
    except ValueError as exc:  # pooch's hash mismatch
        raise DatasetError(
            f"The download from {url} is corrupt: {exc}. Nothing was cached; try again, or use "
            f"a verified local copy through RECFT_DATA_MIRROR."
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise DatasetError(
            f"The download from {url} failed or was interrupted ({type(exc).__name__}). Nothing "
            f"was cached; try again when online, or set RECFT_DATA_MIRROR to a local copy."
        ) from exc
    return Path(path)


def load_raw(
    url: str = ARCHIVE_URL, known_hash: str | None = ARCHIVE_SHA256, facts: DatasetFacts = FACTS
) -> pd.DataFrame:
    """The complete raw table, verified, from the mirror, the cache or UCI."""
    mirror = mirror_path()
    if mirror is not None:
        check_mirror_checksum(mirror)
        return check_content(read_checked_parquet(mirror), str(mirror), facts)
    cached = data_home() / PARQUET_NAME
    if cached.exists():
        return check_content(read_checked_parquet(cached), str(cached), facts)
    archive = fetch_archive(url, known_hash, cached.parent)
    raw = check_content(convert_archive(archive), f"the archive {archive}", facts)
    with atomic_path(cached) as tmp:
        raw.to_parquet(tmp, index=False)
    return raw
