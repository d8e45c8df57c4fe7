"""The global temporal split: train on the past, evaluate on what came later.

    |---------------- train ----------------|--- valid ---|--- test ---|
                                        valid_start   test_start   data end

``test_start`` is the last day of data minus ``test_days`` (2011-11-09 for
Online Retail with 30 days); validation is the ``valid_days`` before it.
:func:`end_data` cuts the data at an earlier date first, which moves every
window earlier: that is how a second period, or a rolling origin, is evaluated.
Models tuned on validation are trained on everything before ``valid_start``;
the final test fit uses everything before ``test_start``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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
        return cls(pd.Timestamp(data["valid_start"]), pd.Timestamp(data["test_start"]),
                   pd.Timestamp(data["test_end"]))


def temporal_split(interactions: pd.DataFrame, test_days: int = 30, valid_days: int = 30) -> TemporalSplit:
    """Split dates from the data's last day; checks that every part is non-empty."""
    last = interactions["timestamp"].max()
    first = interactions["timestamp"].min()
    test_start = last.normalize() - pd.Timedelta(days=test_days)
    valid_start = test_start - pd.Timedelta(days=valid_days)
    if valid_start <= first:
        raise ParameterError(
            f"test_days={test_days} + valid_days={valid_days} leave no training data: the data "
            f"covers {first.date()} to {last.date()}. Use shorter windows."
        )
    return TemporalSplit(valid_start, test_start, last + pd.Timedelta(seconds=1))


def assign_part(interactions: pd.DataFrame, split: TemporalSplit) -> pd.Series:
    """Label each interaction ``train``, ``valid`` or ``test``."""
    ts = interactions["timestamp"]
    part = pd.Series("train", index=interactions.index)
    part[ts >= split.valid_start] = "valid"
    part[ts >= split.test_start] = "test"
    return part


def parse_data_end(data_end: str) -> pd.Timestamp | None:
    """``data_end`` as a timestamp (``""``: no cut), or a clear error for a value that is not a date."""
    if data_end in ("", None):
        return None
    try:
        return pd.Timestamp(str(data_end))
    except (ValueError, TypeError):
        raise ParameterError(
            f"data_end must be a date such as 2011-10-09 (or empty for all the data), got {data_end!r}; "
            f"pass e.g. `-p data_end 2011-10-09`.") from None


def end_data(interactions: pd.DataFrame, data_end: str) -> pd.DataFrame:
    """The interactions strictly before ``data_end`` (all of them when it is empty).

    The date must lie inside the data: a cut before its first day or after
    its last one is refused with the range the data covers.
    """
    end = parse_data_end(data_end)
    if end is None:
        return interactions
    first, last = interactions["timestamp"].min(), interactions["timestamp"].max()
    if not first < end <= last + pd.Timedelta(days=1):
        raise ParameterError(
            f"data_end={data_end} lies outside the data, which covers {first.date()} to {last.date()}; "
            f"choose a date inside it (or leave data_end empty).")
    return interactions[interactions["timestamp"] < end]
