"""Training material for sequence-aware recommenders, built from a task's history only.

- :func:`order_examples`: one example per order that bought something new:
  the customer's earlier items (most recent first, with their age in days)
  and the new items of the order as targets. This trains exactly what the
  *discovery* view measures.
- :func:`window_histories`: the same history representation for evaluated
  customers at the start of the evaluation window.
- :func:`daily_popularity`: for every day, how often each item was bought in
  the preceding ``days`` (strictly before that day), so a model can learn
  how much *recent* popularity matters without seeing the future.
- :func:`first_sale_days`: the day each item went on sale, so that training
  never uses a product that did not exist yet as a negative.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Histories:
    """Padded purchase histories: item columns, ages in days, a mask, and the day index."""

    items: np.ndarray  # int32 (n, L): catalogue columns, most recent first
    ages: np.ndarray  # float32 (n, L): days since the item was last bought
    mask: np.ndarray  # float32 (n, L): 1 for real entries
    day: np.ndarray  # int32 (n,): day index of the prediction (see daily_popularity)

    def __len__(self) -> int:
        return len(self.day)

    def subset(self, index) -> "Histories":
        return Histories(self.items[index], self.ages[index], self.mask[index], self.day[index])

    def as_inputs(self) -> dict:
        return {"items": self.items, "ages": self.ages, "mask": self.mask, "day": self.day}


@dataclass
class ColumnLists:
    """One list of catalogue columns per example, stored flat: example ``i`` holds
    ``values[starts[i]:ends[i]]`` (examples may share values: a customer's earlier items are a
    prefix of one list per customer). Memory grows with purchases, not with examples × catalogue."""

    values: np.ndarray  # int32 (total,)
    starts: np.ndarray  # int64 (examples,)
    ends: np.ndarray  # int64 (examples,)

    @classmethod
    def from_lists(cls, lists) -> "ColumnLists":
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        ends = np.cumsum(lengths)
        values = np.concatenate(lists).astype(np.int32) if len(lists) else np.zeros(0, np.int32)
        return cls(values, ends - lengths, ends)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.starts[i] : self.ends[i]]

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.starts.nbytes + self.ends.nbytes

    def flat_positions(self) -> np.ndarray:
        """Positions in ``values`` of every example's entries, example after example."""
        lengths = self.ends - self.starts
        return np.arange(lengths.sum()) + np.repeat(self.starts - (np.cumsum(lengths) - lengths), lengths)

    def counts(self, width: int) -> np.ndarray:
        """How many examples list each column."""
        return np.bincount(self.values[self.flat_positions()], minlength=width)


def _pad(rows: list[np.ndarray], length: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(rows), length), dtype=dtype)
    mask = np.zeros((len(rows), length), dtype=np.float32)
    for i, row in enumerate(rows):
        row = row[:length]
        out[i, : len(row)] = row
        mask[i, : len(row)] = 1.0
    return out, mask


_KEPT: dict = {}  # (id of a history, name, arguments) -> (that task's items, a table derived from them)


def _kept(task, name: str, compute, *arguments):
    """``compute()``, kept while ``task.history`` lives. A search, an ablation and every epoch's
    evaluation ask for the same window's tables again; on a shop of a million lines each costs seconds.
    Keyed by the history and catalogue objects themselves (tasks are built once and not changed)."""
    key = (id(task.history), name, arguments)
    kept = _KEPT.get(key)
    if kept is not None and kept[0] is task.items:
        return kept[1]
    if not any(other[0] == key[0] for other in _KEPT):
        weakref.finalize(task.history, _forget, key[0])
    _KEPT[key] = (task.items, compute())
    return _KEPT[key][1]


def _forget(history_id: int) -> None:
    for key in [key for key in _KEPT if key[0] == history_id]:
        del _KEPT[key]


def _with_columns(task) -> pd.DataFrame:
    """History rows with their catalogue column and day index (kept: see :func:`_kept`; not to be changed)."""

    def compute():
        position = pd.Series(np.arange(len(task.items)), index=task.items)
        history = task.history
        return history.assign(
            column=position.reindex(history["item_id"]).to_numpy(),
            day=day_index(history["timestamp"], origin(task)),
        )

    return _kept(task, "columns", compute)


def origin(task) -> pd.Timestamp:
    """Day 0 of a task's day indices: the first day of its history."""
    return task.history["timestamp"].min().normalize()


def day_index(timestamps, start: pd.Timestamp) -> np.ndarray:
    return ((pd.to_datetime(timestamps) - start) // pd.Timedelta(days=1)).to_numpy().astype(np.int32)


class _Bought:
    """One customer's products in order of first purchase, each with the day it was last bought."""

    def __init__(self, most: int):
        self.position: dict[int, int] = {}
        self.columns = np.zeros(most, np.int64)
        self.last_day = np.zeros(most, np.int64)

    def add(self, columns, day: int) -> None:
        for column in columns:
            at = self.position.setdefault(column, len(self.position))
            self.columns[at], self.last_day[at] = column, day

    def recent(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most recently bought (ties: first bought first) and their days, most recent first."""
        bought = len(self.position)
        order = np.argsort(-self.last_day[:bought], kind="stable")[:n]  # stable: what sorted() by day gave
        return self.columns[order], self.last_day[order]


def order_examples(task, max_history: int = 50) -> tuple[Histories, ColumnLists, ColumnLists]:
    """Examples from the history: (histories, new items per order, all earlier items per order).

    Kept while the task lives (see :func:`_kept`), read-only: every trial of a search trains on them.

    Orders are taken in time order per customer; an order contributes an
    example when the customer had bought before and the order holds at least
    one item they never bought before. The earlier items of an example are the
    customer's items in order of first purchase, up to that order: a prefix of
    one list per customer, so they take memory per purchase, not per example.
    """
    return _kept(task, "order examples", lambda: _read_only(*_order_examples(task, max_history)), max_history)


def _order_examples(task, max_history: int) -> tuple[Histories, ColumnLists, ColumnLists]:
    rows = _with_columns(task)
    orders = (
        rows.groupby(["user_id", "order_id"], sort=False)
        .agg(time=("timestamp", "min"), day=("day", "min"), columns=("column", "unique"))
        .reset_index()
        .sort_values(["user_id", "time"], kind="stable")
    )
    items, ages, days, targets, seen_starts, seen_ends, firsts = [], [], [], [], [], [], []
    base = 0  # where this customer's first-purchase list starts in the flat list
    for _, group in orders.groupby("user_id", sort=False):
        bought = _Bought(sum(len(columns) for columns in group["columns"]))
        for day, columns in zip(group["day"].to_numpy(), group["columns"].to_numpy()):
            new = np.array([c for c in columns if c not in bought.position], dtype=np.int64)
            if bought.position and len(new):
                recent, last = bought.recent(max_history)
                items.append(recent)
                ages.append((day - last).astype(np.float32))
                days.append(day)
                targets.append(new)
                seen_starts.append(base)
                seen_ends.append(base + len(bought.position))
            bought.add(columns, day)
        firsts.append(bought.columns[: len(bought.position)].astype(np.int32))
        base += len(bought.position)
    item_array, mask = _pad(items, max_history, np.int32)
    age_array, _ = _pad(ages, max_history, np.float32)
    seen = ColumnLists(
        np.concatenate(firsts) if firsts else np.zeros(0, np.int32),
        np.array(seen_starts, dtype=np.int64),
        np.array(seen_ends, dtype=np.int64),
    )
    return (
        Histories(item_array, age_array, mask, np.array(days, dtype=np.int32)),
        ColumnLists.from_lists(targets),
        seen,
    )


def _read_only(*tables):
    for table in tables:
        for values in vars(table).values():
            values.setflags(write=False)
    return tables


def window_histories(task, rows: np.ndarray, max_history: int = 50) -> Histories:
    """Histories of ``task.users[rows]`` as of the window start (vectorised: one sort, no per-customer loop,
    so that an export of 700,000 customers takes seconds)."""
    start_day = int(day_index([task.start], origin(task))[0])
    user_row, column, day = _recent_purchases(task, max_history)
    wanted, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
    slot = np.full(len(task.users), -1, dtype=np.int64)
    slot[wanted] = np.arange(len(wanted))
    out = slot[user_row]
    keep = out >= 0
    out, column, day = out[keep], column[keep], day[keep]
    position = np.arange(len(out)) - np.searchsorted(out, out, side="left")  # rank within the customer
    items = np.zeros((len(wanted), max_history), dtype=np.int32)
    ages = np.zeros((len(wanted), max_history), dtype=np.float32)
    mask = np.zeros((len(wanted), max_history), dtype=np.float32)
    items[out, position] = column
    ages[out, position] = start_day - day
    mask[out, position] = 1.0
    return Histories(items[inverse], ages[inverse], mask[inverse], np.full(len(rows), start_day, dtype=np.int32))


def _recent_purchases(task, max_history: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's ``max_history`` most recently bought products, most recent first, as three arrays:
    the customer's row in ``task.users``, the product's column, the day it was last bought. Kept (see
    :func:`_kept`), read-only: each chunk of customers scored reads it."""

    def compute():
        last = _with_columns(task).groupby(["user_id", "column"])["day"].max().reset_index()
        last = last.sort_values(["user_id", "day"], ascending=[True, False], kind="stable")
        last = last[last.groupby("user_id", sort=False).cumcount().to_numpy() < max_history]
        arrays = (
            np.searchsorted(task.users, last["user_id"].to_numpy()),
            last["column"].to_numpy(),
            last["day"].to_numpy(),
        )
        for values in arrays:
            values.setflags(write=False)
        return arrays

    return _kept(task, "recent purchases", compute, max_history)


def multi_hot(lists, width: int) -> np.ndarray:
    """(len(lists), width) uint8 with ones at each row's columns (a list of arrays or
    :class:`ColumnLists`). Dense: for small tables and tests; training expands one batch at a time
    (:func:`~recft_utils.models.streaming.dense_rows`)."""
    out = np.zeros((len(lists), width), dtype=np.uint8)
    for i in range(len(lists)):
        out[i, lists[i]] = 1
    return out


def daily_popularity(task, days: int = 30) -> np.ndarray:
    """(history days + 1, items): log(1 + customer-days on which the item was bought
    in the ``days`` before each day), counting only days strictly before it. Row ``d`` is what a
    model may know on day ``d``; the last row is the window start."""
    rows = _with_columns(task)
    n_days = int(day_index([task.start], origin(task))[0]) + 1
    pairs = rows.drop_duplicates(["user_id", "column", "day"])
    # two (days x items) arrays, worked in place: a large catalogue's table is hundreds of MB
    bought = np.zeros((n_days, len(task.items)), dtype=np.float32)
    np.add.at(bought, (pairs["day"].to_numpy(), pairs["column"].to_numpy()), 1.0)
    np.cumsum(bought, axis=0, out=bought)  # row d: purchases on days <= d (whole counts: exact in float32)
    table = np.zeros_like(bought)
    table[1:] = bought[:-1]  # days < d
    table[days + 1 :] -= bought[: max(n_days - days - 1, 0)]  # minus days < d - days
    np.maximum(table, 0.0, out=table)
    return np.log1p(table, out=table)


def first_sale_days(task) -> np.ndarray:
    """(items,) float32 day index of each catalogue item's first sale in the history.

    Items first sold inside the window (cold items) get the window start's
    index: on no training day were they on sale, so a model trained on the
    history must not learn anything about them, not even that nobody bought them.
    """
    rows = _with_columns(task)
    start_day = int(day_index([task.start], origin(task))[0])
    first = np.full(len(task.items), start_day, dtype=np.float32)
    days = rows.groupby("column")["day"].min()
    first[days.index.to_numpy(dtype=int)] = days.to_numpy(dtype=np.float32)
    return first
