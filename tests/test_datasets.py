"""Loading, verifying and cleaning interaction data.

Online Retail tests use the real mirror (``$RECFT_DATA_MIRROR``) and skip
without it. The bring-your-own tests write small files by hand: they test
validation messages, not results.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from recft_utils.datasets import (
    check_dataset_name,
    clean_online_retail,
    load_interactions,
    online_retail,
    read_interactions_file,
)
from recft_utils.errors import DatasetError, ParameterError

# --- cleaning the real Online Retail --------------------------------------------------------


def test_clean_online_retail_on_the_real_data(mirror_root):
    # load_raw goes through the real path: mirror, SHA256SUMS and content facts.
    interactions, report = clean_online_retail(online_retail.load_raw())

    removed = dict(zip(report["rule"], report["rows_removed"]))
    assert removed["no customer"] == 135_080
    assert removed["cancellation or adjustment invoice"] == 8_905
    assert removed["non-positive quantity or price"] == 40
    assert removed["non-product stock code"] == 1_547
    assert report["rows_left"].iloc[-1] == len(interactions) == 396_337
    assert interactions["user_id"].nunique() == 4_334
    assert interactions["item_id"].nunique() == 3_659

    assert interactions["item_text"].notna().all()
    assert (interactions.groupby("item_id")["item_text"].nunique() == 1).all()
    assert (interactions["quantity"] > 0).all()
    assert (interactions["price"] > 0).all()
    assert not interactions["order_id"].str.startswith(("C", "A")).any()


def test_load_interactions_samples_customers_reproducibly(mirror_root):
    first, _ = load_interactions("online-retail", max_customers=400, seed=1)
    again, _ = load_interactions("online-retail", max_customers=400, seed=1)
    other, _ = load_interactions("online-retail", max_customers=400, seed=2)

    assert first["user_id"].nunique() == 400
    pd.testing.assert_frame_equal(first, again)
    assert set(first["user_id"]) != set(other["user_id"])


def test_unknown_dataset_name_lists_the_builtin_ones():
    with pytest.raises(ParameterError, match="online-retail"):
        check_dataset_name("no-such-dataset")


# --- a broken mirror ------------------------------------------------------------------------


@pytest.fixture
def mirror_copy(tmp_path, monkeypatch):
    """An empty mirror laid out like shared/datasets, with RECFT_DATA_MIRROR pointing at it.

    Returns the ``online_retail`` folder for the test to fill.
    """
    monkeypatch.setenv("RECFT_DATA_MIRROR", str(tmp_path / "mirror"))
    folder = tmp_path / "mirror" / "online_retail"
    folder.mkdir(parents=True)
    return folder


def test_mirror_that_is_not_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("RECFT_DATA_MIRROR", str(tmp_path / "nowhere"))

    with pytest.raises(DatasetError, match=r"is not a directory.*unset it to download"):
        online_retail.load_raw()


def test_mirror_without_the_parquet(mirror_copy):
    with pytest.raises(DatasetError, match=r"has no online_retail/online_retail.parquet.*Copy the dataset"):
        online_retail.load_raw()


def test_corrupt_mirror_parquet(mirror_copy):
    (mirror_copy / online_retail.PARQUET_NAME).write_bytes(b"this is not parquet\n" * 100)

    with pytest.raises(DatasetError, match=r"not a readable parquet file.*fetch the data again"):
        online_retail.load_raw()


def test_truncated_mirror_copy(mirror_copy, mirror_raw):
    # SHA256SUMS not copied: the content facts are what catches it.
    mirror_raw.head(1000).to_parquet(mirror_copy / online_retail.PARQUET_NAME, index=False)

    with pytest.raises(DatasetError, match=r"rows: found 1,000 expected 541,909.*truncated.*fetch it again"):
        online_retail.load_raw()


def test_mirror_parquet_that_differs_from_its_checksum(mirror_copy, mirror_root, mirror_raw):
    shutil.copy(mirror_root / "online_retail" / "SHA256SUMS", mirror_copy)
    mirror_raw.head(1000).to_parquet(mirror_copy / online_retail.PARQUET_NAME, index=False)

    with pytest.raises(DatasetError, match=r"checksum.*copy it again"):
        online_retail.load_raw()


# --- bring-your-own files -------------------------------------------------------------------

HEADER = "user_id,item_id,timestamp,item_text,quantity,price,country,order_id\n"
ROWS = [
    "17850,85123A,2010-12-01 08:26:00,WHITE HANGING HEART T-LIGHT HOLDER,6,2.55,United Kingdom,536365\n",
    "17850,71053,2010-12-01 08:26:00,WHITE METAL LANTERN,6,3.39,United Kingdom,536365\n",
    "13047,22752,2010-12-01 08:34:00,SET 7 BABUSHKA NESTING BOXES,2,7.65,United Kingdom,536367\n",
]


def write(path, text: str | bytes):
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_valid_csv_is_read_in_the_recft_schema(tmp_path):
    frame = read_interactions_file(write(tmp_path / "shop.csv", HEADER + "".join(ROWS)))

    assert list(frame.columns) == [
        "user_id",
        "item_id",
        "timestamp",
        "item_text",
        "quantity",
        "price",
        "country",
        "order_id",
    ]
    for column in ("user_id", "item_id", "item_text", "country", "order_id"):
        assert pd.api.types.is_string_dtype(frame[column]), column
    assert pd.api.types.is_datetime64_any_dtype(frame["timestamp"])
    assert frame["quantity"].dtype == "int64"
    assert frame["price"].dtype == "float64"
    assert len(frame) == 3
    assert frame["user_id"].iloc[0] == "17850"  # an id stays text, never 17850.0
    assert frame["item_id"].tolist() == ["85123A", "71053", "22752"]


def test_valid_parquet_gets_defaults_for_optional_columns(tmp_path):
    path = tmp_path / "shop.parquet"
    pd.DataFrame(
        {
            "user_id": ["a", "b"],
            "item_id": ["x", "y"],
            "timestamp": pd.to_datetime(["2011-01-01 10:00", "2011-01-02 11:00"]),
            "item_text": ["RED MUG", "BLUE MUG"],
        }
    ).to_parquet(path)

    frame = read_interactions_file(path)

    assert frame["quantity"].tolist() == [1, 1]
    assert frame["price"].isna().all()
    assert frame["country"].tolist() == ["unknown", "unknown"]
    assert frame["order_id"].notna().all()


def test_missing_column_names_the_column_and_the_file(tmp_path):
    path = write(tmp_path / "shop.csv", "user_id,item_id,timestamp\nu1,i1,2011-01-01 10:00\n")

    with pytest.raises(DatasetError, match="item_text") as error:
        read_interactions_file(path)
    assert str(path) in str(error.value)


def test_bad_timestamp_names_the_line_and_the_column(tmp_path):
    rows = ROWS[:2] + [ROWS[2].replace("2010-12-01 08:34:00", "not a date")]
    path = write(tmp_path / "shop.csv", HEADER + "".join(rows))

    # Data row index 2 is line 4 of the file (line 1 is the header).
    with pytest.raises(DatasetError, match=r"line 4, column 'timestamp'"):
        read_interactions_file(path)


def test_empty_file(tmp_path):
    with pytest.raises(DatasetError, match="is empty"):
        read_interactions_file(write(tmp_path / "shop.csv", b""))


def test_header_only_file(tmp_path):
    with pytest.raises(DatasetError, match="has a header but no rows"):
        read_interactions_file(write(tmp_path / "shop.csv", HEADER))


def test_non_utf8_text_names_the_line(tmp_path):
    # A latin-1 'é' on line 3 (the second data row).
    data = (HEADER + ROWS[0]).encode() + ROWS[1].replace("WHITE", "CAFÉ").encode("latin-1")
    path = write(tmp_path / "shop.csv", data)

    with pytest.raises(DatasetError, match=r"line 3: the text is not UTF-8"):
        read_interactions_file(path)


def test_non_numeric_quantity_names_the_column(tmp_path):
    rows = ROWS[:1] + [ROWS[1].replace(",6,3.39,", ",six,3.39,")]
    path = write(tmp_path / "shop.csv", HEADER + "".join(rows))

    with pytest.raises(DatasetError, match=r"line 3, column 'quantity'.*not a number"):
        read_interactions_file(path)


def test_unsupported_file_type(tmp_path):
    path = write(tmp_path / "shop.txt", HEADER + "".join(ROWS))

    with pytest.raises(DatasetError, match=r"unsupported file type '\.txt'"):
        read_interactions_file(path)


def test_data_end_cuts_the_data_and_says_so_in_the_report(mirror_root):
    from recft_utils.evaluation import temporal_split

    interactions, report = load_interactions("online-retail", data_end="2011-10-09")
    assert interactions["timestamp"].max() < pd.Timestamp("2011-10-09")
    assert report.iloc[-1]["rule"] == "data_end" and report.iloc[-1]["rows_left"] == len(interactions)
    last_day = interactions["timestamp"].max().normalize()
    assert temporal_split(interactions, 30, 30).test_start == last_day - pd.Timedelta(days=30)
