"""The global temporal split: train on the past, evaluate on what came later.

    |---------------- train ----------------|--- valid ---|--- test ---|
                                        valid_start   test_start   data end

``test_start`` is the last day of data minus ``test_days``; validation is the
``valid_days`` before it. :func:`end_data` cuts the data at an earlier day first (a
date, or ``-30d``: days back from the data's end, whatever years a shop's data covers),
which moves every window earlier: that is how a second period, or a rolling origin, is
evaluated.
Models tuned on validation are trained on everything before ``valid_start``;
the final test fit uses everything before ``test_start``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from recft_utils.config import parse_data_end
from recft_utils.errors import ParameterError


@dataclass(frozen=True)
class TemporalSplit:
    valid_start: pd.Timestamp
    test_start: pd.Timestamp
    end: pd.Timestamp  # exclusive: just after the last interaction

    def window(self, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """(start, end) of the ``valid`` or ``test`` window; history is before start."""
        if name == "valid":
            return self.valid_start, self.test_start
        if name == "test":
            return self.test_start, self.end
        raise ParameterError(f"Unknown window {name!r}: use 'valid' or 'test'.")

    def as_dict(self) -> dict:
        return {
            "train_end": str(self.valid_start.date()),
            "valid_start": str(self.valid_start.date()),
            "test_start": str(self.test_start.date()),
            "test_end": str(self.end),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "TemporalSplit":
        return cls(pd.Timestamp(data["valid_start"]), pd.Timestamp(data["test_start"]), pd.Timestamp(data["test_end"]))


def temporal_split(interactions: pd.DataFrame, test_days: int = 30, valid_days: int = 30) -> TemporalSplit:
    """Split dates from the data's last day; checks that every part is non-empty."""
    last = interactions["timestamp"].max()
    first = interactions["timestamp"].min()
    test_start = last.normalize() - pd.Timedelta(days=test_days)
    valid_start = test_start - pd.Timedelta(days=valid_days)
    if valid_start <= first:
        span = (last.normalize() - first.normalize()).days
        raise ParameterError(
            f"test_days={test_days} + valid_days={valid_days} leave no training data: the windows need more "
            f"than {test_days + valid_days} days of data, and the data covers {span} days ({first.date()} to "
            f"{last.date()}). Use shorter windows (e.g. -p test_days {max(1, span // 4)} -p valid_days "
            f"{max(1, span // 4)}) or more data."
        )
    return TemporalSplit(valid_start, test_start, last + pd.Timedelta(seconds=1))


def assign_part(interactions: pd.DataFrame, split: TemporalSplit) -> pd.Series:
    """Label each interaction ``train``, ``valid`` or ``test``."""
    ts = interactions["timestamp"]
    part = pd.Series("train", index=interactions.index)
    part[ts >= split.valid_start] = "valid"
    part[ts >= split.test_start] = "test"
    return part


# a day counted back from the data's end ("-30d": leave out the last 30 days), so that one command
# works on any shop's data, whatever years it covers
def day_in_data(interactions: pd.DataFrame, value: str, name: str = "data_end") -> pd.Timestamp | None:
    """The day ``value`` names in ``interactions`` (``-30d``: 30 days before the day after the last one).

    Refuses a day outside the data, naming the range it covers.
    """
    day = parse_data_end(value, name)
    if day is None:
        return None
    first, last = interactions["timestamp"].min(), interactions["timestamp"].max()
    if isinstance(day, pd.Timedelta):
        day = last.normalize() + pd.Timedelta(days=1) - day
    if not first < day <= last.normalize() + pd.Timedelta(days=1):
        raise ParameterError(
            f"{name}={value} ({day.date()}) lies outside the data, which covers {first.date()} to {last.date()}; "
            f"choose a day inside it, such as -30d (or leave {name} empty)."
        )
    return day


def end_data(interactions: pd.DataFrame, data_end: str) -> pd.DataFrame:
    """The interactions strictly before ``data_end`` (all of them when it is empty); see :func:`day_in_data`."""
    end = day_in_data(interactions, data_end)
    return interactions if end is None else interactions[interactions["timestamp"] < end]
