"""Export a trained two-tower model as a TensorFlow SavedModel that serves top-k recommendations.

The SavedModel is what TF Serving reads: it needs no recft code. Inside it:

- the catalogue's item vectors, already through the adapter (the *index*),
  and each item's prior (bias and recent popularity on the export day);
- a lookup table from item id to row;
- the user tower's weights.

Two signatures:

- ``recommend_items(items, ages, exclude, exclude_history, k)``: ``items``
  (batch, n) item ids, most recent first, ``""`` as padding; ``ages`` their
  age in days; ``exclude`` (batch, m) ids never to return; unknown ids are ignored.
  Returns ``item_ids`` (batch, k) and ``scores`` (batch, k), best first.
- ``user_vectors(items, ages)``: the user tower's output (batch, dim) for the
  same histories, for a search outside the graph (the approximate index).

The model folder written by :func:`export_recommender` holds ``saved_model/``,
``items.parquet`` (the catalogue in the SavedModel's row order, with titles, for
``GET /items/{id}``), ``histories.npz`` (every known customer's recent items and their
ages as of the export day: :class:`CustomerHistories`; a table beside the graph, so
that 700,000 customers neither bloat the SavedModel nor need re-exporting it to
change), ``index.usearch`` for a catalogue of more than
:data:`~recft_utils.serving.ann.ANN_MIN_ITEMS` items (:mod:`recft_utils.serving.ann`)
and ``metadata.json`` (format, version, sizes, and a checksum of every file).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from recft_utils.artefacts import atomic_directory, sha256_file, write_json
from recft_utils.models.training_data import day_index, origin, window_histories
from recft_utils.run import Run
from recft_utils.serving.ann import ANN_MIN_ITEMS, INDEX_FILE, AnnIndex, AnnSettings

# 2: the customers' histories moved out of the SavedModel into histories.npz (and
# recommend_customer with them); user_vectors and the optional index.usearch came in.
FORMAT = "recft-saved-model/2"
HISTORIES_FILE = "histories.npz"
SIGNATURES = ("recommend_items", "user_vectors")


class RecommenderModule(tf.Module):
    """The exported computation: the catalogue's vectors and prior as TensorFlow variables, an id lookup table."""

    def __init__(self, model, item_ids: np.ndarray, day: int):
        super().__init__()
        self.model = model  # its user tower is called as is, so serving scores exactly like training
        self.item_vectors = tf.Variable(np.asarray(model.item_matrix()), trainable=False, name="item_vectors")
        self.prior = tf.Variable(np.asarray(model.item_prior(np.array([day])))[0], trainable=False, name="prior")
        self.item_ids = tf.Variable(np.asarray(item_ids).astype(str), trainable=False, name="item_ids")
        self.item_rows = _lookup(item_ids)

    def _users(self, items, ages):
        """Rows, mask and user vectors of (batch, n) item ids."""
        rows = self.item_rows.lookup(items)
        mask = tf.cast(rows >= 0, tf.float32)
        columns = tf.maximum(rows, 0)
        user = self.model.user_vectors({"items": columns, "ages": ages, "mask": mask}, self.item_vectors)
        return columns, mask, user

    def _blocked(self, rows, n_items):
        """(batch, items) 1.0 at each row's ids (-1: unknown or padding, none); a scatter, not a
        one-hot, so that 1,000 excluded ids of a 100,000-item catalogue stay a small tensor."""
        where = tf.where(rows >= 0)
        indices = tf.stack([where[:, 0], tf.gather_nd(rows, where)], axis=1)
        shape = tf.stack([tf.shape(rows, out_type=tf.int64)[0], tf.cast(n_items, tf.int64)])
        return tf.minimum(tf.scatter_nd(indices, tf.ones(tf.shape(where)[:1]), shape), 1.0)

    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.string, name="items"),
        tf.TensorSpec([None, None], tf.float32, name="ages"),
        tf.TensorSpec([None, None], tf.string, name="exclude"),
        tf.TensorSpec([], tf.bool, name="exclude_history"),
        tf.TensorSpec([], tf.int32, name="k"),
    ])
    def recommend_items(self, items, ages, exclude, exclude_history, k):
        columns, mask, user = self._users(items, ages)
        scores = tf.matmul(user, self.item_vectors, transpose_b=True) + self.prior[None, :]
        n_items = tf.shape(self.item_vectors)[0]
        blocked = self._blocked(self.item_rows.lookup(exclude), n_items)
        own = self._blocked(tf.where(mask > 0, columns, -1), n_items)
        blocked = tf.maximum(blocked, tf.cast(exclude_history, tf.float32) * own)
        scores = tf.where(blocked > 0, tf.constant(-np.inf, tf.float32), scores)
        top = tf.math.top_k(scores, k=tf.minimum(k, n_items))
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.string, name="items"),
        tf.TensorSpec([None, None], tf.float32, name="ages"),
    ])
    def user_vectors(self, items, ages):
        return {"user_vectors": self._users(items, ages)[2]}


def _lookup(keys: np.ndarray) -> tf.lookup.StaticHashTable:
    """id → row; unknown ids → -1."""
    keys = tf.constant(np.asarray(keys).astype(str))
    values = tf.range(tf.size(keys, out_type=tf.int64), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1)


@dataclass
class CustomerHistories:
    """Every known customer's recent items, as flat arrays (no Python object per customer).

    Customer ``customer_ids[i]`` (UTF-8 bytes, sorted, so a lookup is a binary search)
    bought the catalogue rows ``items[offsets[i]:offsets[i + 1]]`` (rows of
    ``items.parquet``, most recent first), ``ages[...]`` days before the export day.
    """

    customer_ids: np.ndarray  # (customers,) bytes, sorted
    offsets: np.ndarray  # (customers + 1,) int64
    items: np.ndarray  # (purchases,) int32
    ages: np.ndarray  # (purchases,) float32

    @classmethod
    def from_padded(cls, customers: np.ndarray, histories) -> "CustomerHistories":
        """From :func:`~recft_utils.models.training_data.window_histories`' padded rows of ``customers``."""
        ids = np.char.encode(np.asarray(customers).astype(str), "utf-8")
        order = np.argsort(ids, kind="stable")
        if len(ids) and (ids[order][1:] == ids[order][:-1]).any():
            raise ValueError("customer ids are not unique")
        mask = np.asarray(histories.mask)[order] > 0  # a prefix of each row: most recent first
        offsets = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
        return cls(ids[order], offsets, np.asarray(histories.items)[order][mask].astype(np.int32),
                   np.asarray(histories.ages)[order][mask].astype(np.float32))

    def save(self, path) -> Path:
        with open(path, "wb") as handle:  # uncompressed: loads as fast as the disk reads
            np.savez(handle, customer_ids=self.customer_ids, offsets=self.offsets, items=self.items, ages=self.ages)
        return Path(path)

    @classmethod
    def load(cls, path) -> "CustomerHistories":
        with np.load(path, allow_pickle=False) as arrays:
            return cls(arrays["customer_ids"], arrays["offsets"], arrays["items"], arrays["ages"])

    def __len__(self) -> int:
        return len(self.customer_ids)

    def position(self, customer_id) -> int | None:
        """The customer's position in the table, or None when the customer is unknown."""
        key = str(customer_id).encode("utf-8")
        if len(key) > self.customer_ids.dtype.itemsize:  # longer than every stored id: not one of them
            return None
        at = int(np.searchsorted(self.customer_ids, key))
        return at if at < len(self) and self.customer_ids[at] == key else None

    def __contains__(self, customer_id) -> bool:
        return self.position(customer_id) is not None

    def history(self, customer_id) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, ages)`` of a known customer, most recent first; KeyError for an unknown one."""
        at = self.position(customer_id)
        if at is None:
            raise KeyError(customer_id)
        start, end = self.offsets[at], self.offsets[at + 1]
        return self.items[start:end], self.ages[start:end]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def export_recommender(model, task, folder, titles: pd.Series | None = None, version: str | None = None,
                       max_history: int = 50, source: dict | None = None, ann: bool | None = None,
                       ann_settings: AnnSettings | None = None) -> Path:
    """Write the model folder for ``model`` (a :class:`~recft_utils.models.two_tower.TextTwoTower`
    fitted on ``task``), scoring as of ``task.start``, atomically.

    ``titles`` (item id → title) go to ``items.parquet``; ``version``
    defaults to the export time and the checksum of the SavedModel;
    ``source`` (e.g. the run folder and settings) is recorded in the metadata.
    ``ann``: write ``index.usearch`` (True), or not (False); by default when the
    catalogue has more than ``ANN_MIN_ITEMS`` items.
    """
    histories = window_histories(task, np.arange(len(task.users)), max_history)
    day = int(day_index([task.start], origin(task))[0])  # the window start (the popularity table's last row)
    module = RecommenderModule(model, task.items, day)
    with_index = len(task.items) > ANN_MIN_ITEMS if ann is None else bool(ann)
    folder = Path(folder)
    with atomic_directory(folder) as tmp:
        tf.saved_model.save(module, str(tmp / "saved_model"), signatures={
            name: getattr(module, name) for name in SIGNATURES})
        catalogue = pd.DataFrame({"item_id": task.items.astype(str), "warm": np.arange(len(task.items)) < task.n_warm})
        if titles is not None:
            catalogue["title"] = titles.reindex(task.items).fillna("").to_numpy()
        catalogue.to_parquet(tmp / "items.parquet", index=False)
        CustomerHistories.from_padded(task.users, histories).save(tmp / HISTORIES_FILE)
        index = None
        if with_index:
            index = AnnIndex.build(module.item_vectors.numpy(), module.prior.numpy(), ann_settings)
            index.save(tmp / INDEX_FILE)
        files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        stamp = dt.datetime.now(dt.timezone.utc)
        write_json(tmp / "metadata.json", {
            "format": FORMAT,
            "version": version or f"{stamp:%Y%m%d-%H%M%S}-{files['saved_model/saved_model.pb'][:8]}",
            "exported_at": stamp.isoformat(timespec="seconds"), "as_of": str(task.start.date()),
            "items": len(task.items), "warm_items": int(task.n_warm), "customers": len(task.users),
            "max_history": max_history, "signatures": list(SIGNATURES), "histories": HISTORIES_FILE,
            "ann": index.describe() if index is not None else None,
            "source": source or {}, "files": files,
        })
    return folder


def export_run(run_dir, out=None) -> Path:
    """Export step 3's saved model of ``run_dir`` (default destination ``run_dir/04_serving/model``)."""
    from recft_utils.models.two_tower import load_model  # Keras only where a Keras model is read

    run = Run(run_dir)
    task, titles = run.task("test"), run.titles()
    config = run.model_config()
    out = Path(out) if out is not None else run.path("04_serving", Run.EXPORTED_MODEL)
    return export_recommender(load_model(run.model_weights()), task, out, titles,
                              max_history=config["max_history"], source={"run_dir": str(run_dir)})
