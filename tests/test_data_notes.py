"""The sentences notebooks print about a shop come from its data, whatever the shop and its years."""

import pandas as pd

from recft_utils.datasets.statistics import seasonality_note
from recft_utils.evaluation.segments import largest_segment_note
from recft_utils.serving.replay import calendar_note


def orders(days: dict[str, int]) -> pd.DataFrame:
    """One line per order: ``days`` maps a day to its number of orders."""
    rows = [
        (f"{day}-{n}", pd.Timestamp(day) + pd.Timedelta(hours=9)) for day, count in days.items() for n in range(count)
    ]
    return pd.DataFrame(rows, columns=["order_id", "timestamp"])


def test_the_season_sentence_names_the_data_s_own_months():
    shop = orders({"1987-03-02": 2, "1987-03-03": 2, "1987-07-01": 9, "1987-07-02": 7})
    assert seasonality_note(shop) == (
        "Busiest month: July 1987 with 8 orders a day, 4.0× the quietest (March 1987, 2 a day)."
    )
    assert "one month" in seasonality_note(orders({"2031-05-04": 3}))


def test_the_calendar_sentence_finds_closed_weekdays_and_a_partial_last_day():
    days = pd.date_range("2040-02-06", "2040-02-17", freq="D")  # Monday to the Friday after next
    counts = [{"Saturday": 0, "Sunday": 20}.get(d.day_name(), 40) for d in days]
    counts[-1] = 5
    daily = pd.DataFrame({"orders": counts}, index=[d.date() for d in days])
    daily = daily[daily["orders"] > 0]
    note = calendar_note(daily, pd.Timestamp("2040-02-17 11:05"))
    assert note.startswith(
        "No orders on Saturdays; the quietest weekday is Sunday (20 orders a day, against 38 on average)"
    )
    assert "ends at 11:05 on 2040-02-17, so its last day holds only 5 orders" in note
    full = calendar_note(daily.iloc[:-1], pd.Timestamp("2040-02-16 19:00"))
    assert "partial" not in full


def test_the_largest_segment_sentence_reads_the_table():
    table = pd.DataFrame(
        {"country": ["Atlantis", "Lemuria", "Mu"], "customers": [90, 8, 2], "too_small": [False, True, True]}
    )
    assert largest_segment_note(table, "country") == (
        "Atlantis holds 90% of the evaluated customers; 2 of 3 country values have too few customers to say "
        "anything (flagged too_small)."
    )


def test_a_file_too_short_for_the_windows_names_the_span_needed():
    import pytest

    from recft_utils.errors import ParameterError
    from recft_utils.evaluation import temporal_split

    shop = orders({"2044-03-01": 2, "2044-03-20": 2, "2044-04-09": 2})  # 39 days of data
    with pytest.raises(
        ParameterError,
        match=r"need more than 60 days of data, and the data covers 39 days"
        r".*-p test_days 9 -p valid_days 9",
    ):
        temporal_split(shop, 30, 30)
