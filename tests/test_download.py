"""The download path of Online Retail, against a real HTTP server on 127.0.0.1.

The archive is built from the real mirror: an xlsx written with openpyxl the
way UCI's is laid out (all-digit codes as numbers, dates as datetimes), zipped
as ``Online Retail.xlsx``. Writing all 541,909 rows takes minutes, so the
default tests use the first rows with facts computed from them; one slow test
converts the full archive against the real facts.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from recft_utils.artefacts import sha256_file
from recft_utils.datasets import online_retail
from recft_utils.datasets.online_retail import ARCHIVE_MEMBER, FACTS, PARQUET_NAME, DatasetFacts
from recft_utils.errors import DatasetError

SMALL_ROWS = 3_000  # holds cancellations and rows without a customer, converts in about a second
ARCHIVE_PATH = "/static/public/352/online+retail.zip"


def _xlsx_column(name: str, values: pd.Series) -> list:
    """One column's cells as UCI's xlsx holds them."""
    if name in ("InvoiceNo", "StockCode"):  # all-digit codes are numbers there
        return [int(v) if v.isdigit() else v for v in values]
    if name == "InvoiceDate":  # and dates are real datetimes
        return list(pd.to_datetime(values).dt.to_pydatetime())
    return [None if pd.isna(v) else v for v in values.tolist()]  # NaN is an empty cell


def write_archive(rows: pd.DataFrame, path: Path, member: str = ARCHIVE_MEMBER) -> Path:
    """Write ``rows`` as a one-sheet xlsx zipped under ``member``; return ``path``."""
    book = Workbook(write_only=True)  # streams rows: much faster for large sheets
    sheet = book.create_sheet("Online Retail")
    sheet.append(list(rows.columns))
    columns = [_xlsx_column(name, rows[name]) for name in rows.columns]
    for row in zip(*columns):
        sheet.append(row)
    xlsx = path.with_suffix(".xlsx")
    book.save(xlsx)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(xlsx, member)
    xlsx.unlink()
    return path


def facts_of(rows: pd.DataFrame) -> DatasetFacts:
    """The facts check_content expects, computed the way it computes them."""
    return DatasetFacts(
        rows=len(rows),
        invoices=rows["InvoiceNo"].nunique(),
        stock_codes=rows["StockCode"].nunique(),
        revenue=round(float((rows["Quantity"] * rows["UnitPrice"]).sum()), 3),
    )


def files_in(folder: Path) -> list[str]:
    """Every file under ``folder`` (temporary ones included), as sorted relative paths."""
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def small_rows(mirror_raw) -> pd.DataFrame:
    return mirror_raw.head(SMALL_ROWS).reset_index(drop=True)


@pytest.fixture(scope="module")
def small_archive(small_rows, tmp_path_factory) -> Path:
    return write_archive(small_rows, tmp_path_factory.mktemp("archive") / "online+retail.zip")


@pytest.fixture
def offline(mirror_raw, data_home, monkeypatch) -> Path:
    """Force the download path: no mirror, a private data home (returned).

    Asks for ``mirror_raw`` first so the mirror is read before its variable goes.
    """
    monkeypatch.delenv("RECFT_DATA_MIRROR", raising=False)
    return data_home


def test_good_download_is_verified_converted_and_cached(http_server, offline, small_archive, small_rows):
    url = http_server.add(ARCHIVE_PATH, small_archive.read_bytes())
    facts = facts_of(small_rows)

    raw = online_retail.load_raw(url=url, known_hash=sha256_file(small_archive), facts=facts)

    # Converted to the mirror's exact types and values (InvoiceNo str, dates as text, ...).
    pd.testing.assert_frame_equal(raw, small_rows)
    assert http_server.requests == [ARCHIVE_PATH]
    assert files_in(offline) == [PARQUET_NAME, "online_retail.zip"]  # no temporary file left
    pd.testing.assert_frame_equal(pd.read_parquet(offline / PARQUET_NAME), small_rows)

    again = online_retail.load_raw(url=url, known_hash=sha256_file(small_archive), facts=facts)

    assert http_server.requests == [ARCHIVE_PATH], "the second load must read the cache"
    pd.testing.assert_frame_equal(again, small_rows)


def test_corrupted_download_is_refused_and_nothing_cached(http_server, offline, small_archive, small_rows):
    good = small_archive.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF  # one flipped byte: the hash no longer matches
    url = http_server.add(ARCHIVE_PATH, bytes(bad))

    with pytest.raises(DatasetError, match="corrupt"):
        online_retail.load_raw(url=url, known_hash=sha256_file(small_archive), facts=facts_of(small_rows))

    assert http_server.requests == [ARCHIVE_PATH]
    assert files_in(offline) == []


def test_interrupted_download_is_refused_and_nothing_cached(http_server, offline, small_archive, small_rows):
    good = small_archive.read_bytes()
    # Announce the whole archive, send half of it, close the connection.
    url = http_server.add(ARCHIVE_PATH, good[: len(good) // 2], content_length=len(good))

    with pytest.raises(DatasetError, match="interrupted"):
        online_retail.load_raw(url=url, known_hash=sha256_file(small_archive), facts=facts_of(small_rows))

    assert http_server.requests == [ARCHIVE_PATH]
    assert files_in(offline) == []


def test_missing_url_is_a_failed_download(http_server, offline, small_archive, small_rows):
    url = http_server.url("/no-such-archive.zip")  # the server answers 404

    with pytest.raises(DatasetError, match="failed"):
        online_retail.load_raw(url=url, known_hash=sha256_file(small_archive), facts=facts_of(small_rows))

    assert files_in(offline) == []


def test_real_facts_refuse_the_small_archive_as_truncated(http_server, offline, small_archive):
    url = http_server.add(ARCHIVE_PATH, small_archive.read_bytes())

    expected = rf"rows: found {SMALL_ROWS:,} expected {FACTS.rows:,}.*truncated"
    with pytest.raises(DatasetError, match=expected):
        online_retail.load_raw(url=url, known_hash=sha256_file(small_archive))  # default FACTS

    assert not (offline / PARQUET_NAME).exists(), "a refused table must not be cached"


def test_zip_without_the_workbook_is_refused(small_rows, tmp_path):
    archive = write_archive(small_rows.head(10), tmp_path / "other.zip", member="Other.xlsx")

    with pytest.raises(DatasetError, match=f"not {ARCHIVE_MEMBER!r}"):
        online_retail.convert_archive(archive)


def test_non_zip_file_is_refused(mirror_root, tmp_path):
    not_a_zip = tmp_path / "online_retail.zip"
    not_a_zip.write_bytes((mirror_root / "online_retail" / "README.md").read_bytes())

    with pytest.raises(DatasetError, match="not a valid zip archive"):
        online_retail.convert_archive(not_a_zip)


def test_workbook_with_wrong_columns_is_refused(small_rows, tmp_path):
    archive = write_archive(small_rows.head(10).drop(columns="Country"), tmp_path / "a.zip")

    with pytest.raises(DatasetError, match="lacks column.*Country"):
        online_retail.convert_archive(archive)


@pytest.mark.slow
def test_full_archive_passes_the_real_facts(http_server, offline, mirror_raw, tmp_path):
    archive = write_archive(mirror_raw, tmp_path / "online+retail.zip")
    url = http_server.add(ARCHIVE_PATH, archive.read_bytes())

    raw = online_retail.load_raw(url=url, known_hash=sha256_file(archive))  # default FACTS

    pd.testing.assert_frame_equal(raw, mirror_raw)
    assert (offline / PARQUET_NAME).exists()
