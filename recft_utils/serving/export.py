"""Export a trained two-tower model as a TensorFlow SavedModel that serves top-k recommendations.

The SavedModel is what TF Serving reads: it needs no recft code. Inside it:

- the catalogue's item vectors, already through the adapter (the *index*),
  and each item's prior (bias and recent popularity on the export day);
- lookup tables from item id and customer id to rows;
- every known customer's recent items and their ages, as of the export day;
- the user tower's weights.

Two signatures:

- ``recommend_items(items, ages, exclude, exclude_history, k)``: ``items``
  (batch, n) item ids, most recent first, ``""`` as padding; ``ages`` their
  age in days; ``exclude`` (batch, m) ids never to return; unknown ids are ignored.
- ``recommend_customer(customer_ids, exclude, exclude_history, k)``: the
  stored history of each customer (unknown customers get an empty history;
  the HTTP service refuses them first).

Both return ``item_ids`` (batch, k) and ``scores`` (batch, k), best first.
The model folder written by :func:`export_recommender` holds ``saved_model/``,
``items.parquet`` (the catalogue with titles, for ``GET /items/{id}``),
``customers.parquet`` (the customers whose history is stored) and
``metadata.json`` (version, sizes, and a checksum of every file).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from recft_utils.artefacts import atomic_directory, sha256_file, write_json
from recft_utils.models.training_data import day_index, origin, window_histories
from recft_utils.run import Run

FORMAT = "recft-saved-model/1"


class RecommenderModule(tf.Module):
    """The exported computation: everything as TensorFlow variables and lookup tables."""

    def __init__(self, model, item_ids: np.ndarray, customers: np.ndarray, histories, day: int):
        super().__init__()
        self.model = model  # its user tower is called as is, so serving scores exactly like training
        self.item_vectors = tf.Variable(np.asarray(model.item_matrix()), trainable=False, name="item_vectors")
        self.prior = tf.Variable(np.asarray(model.item_prior(np.array([day])))[0], trainable=False, name="prior")
        self.item_ids = tf.Variable(np.asarray(item_ids).astype(str), trainable=False, name="item_ids")
        self.item_rows = _lookup(item_ids)
        self.customer_rows = _lookup(customers)
        self.history_items = tf.Variable(histories.items, trainable=False, name="history_items")
        self.history_ages = tf.Variable(histories.ages, trainable=False, name="history_ages")
        self.history_mask = tf.Variable(histories.mask, trainable=False, name="history_mask")

    def _top_k(self, columns, ages, mask, exclude, exclude_history, k):
        inputs = {"items": columns, "ages": ages, "mask": mask}
        user = self.model.user_vectors(inputs, self.item_vectors)
        scores = tf.matmul(user, self.item_vectors, transpose_b=True) + self.prior[None, :]
        n_items = tf.shape(self.item_vectors)[0]
        banned = self.item_rows.lookup(exclude)
        blocked = tf.reduce_max(tf.one_hot(banned, n_items), axis=1)  # id -1 (unknown, padding) → no row
        own = tf.reduce_max(tf.one_hot(tf.where(mask > 0, columns, -1), n_items), axis=1)
        blocked = tf.maximum(blocked, tf.cast(exclude_history, tf.float32) * own)
        scores = tf.where(blocked > 0, tf.constant(-np.inf, tf.float32), scores)
        top = tf.math.top_k(scores, k=tf.minimum(k, n_items))
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None], tf.string, name="items"),
        tf.TensorSpec([None, None], tf.float32, name="ages"),
        tf.TensorSpec([None, None], tf.string, name="exclude"),
        tf.TensorSpec([], tf.bool, name="exclude_history"),
        tf.TensorSpec([], tf.int32, name="k"),
    ])
    def recommend_items(self, items, ages, exclude, exclude_history, k):
        rows = self.item_rows.lookup(items)
        mask = tf.cast(rows >= 0, tf.float32)
        return self._top_k(tf.maximum(rows, 0), ages, mask, exclude, exclude_history, k)

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="customer_ids"),
        tf.TensorSpec([None, None], tf.string, name="exclude"),
        tf.TensorSpec([], tf.bool, name="exclude_history"),
        tf.TensorSpec([], tf.int32, name="k"),
    ])
    def recommend_customer(self, customer_ids, exclude, exclude_history, k):
        rows = self.customer_rows.lookup(customer_ids)
        known = tf.cast(rows >= 0, tf.float32)[:, None]
        rows = tf.maximum(rows, 0)
        mask = tf.gather(self.history_mask, rows) * known
        return self._top_k(tf.gather(self.history_items, rows), tf.gather(self.history_ages, rows), mask,
                           exclude, exclude_history, k)


def _lookup(keys: np.ndarray) -> tf.lookup.StaticHashTable:
    """id → row; unknown ids → -1."""
    keys = tf.constant(np.asarray(keys).astype(str))
    values = tf.range(tf.size(keys, out_type=tf.int64), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1)


def export_recommender(model, task, folder, titles: pd.Series | None = None, version: str | None = None,
                       max_history: int = 50, source: dict | None = None) -> Path:
    """Write the model folder for ``model`` (a :class:`~recft_utils.models.two_tower.TextTwoTower`
    fitted on ``task``), scoring as of ``task.start``, atomically.

    ``titles`` (item id → title) go to ``items.parquet``; ``version``
    defaults to the export time and the checksum of the SavedModel;
    ``source`` (e.g. the run folder and settings) is recorded in the metadata.
    """
    histories = window_histories(task, np.arange(len(task.users)), max_history)
    day = int(day_index([task.start], origin(task))[0])  # the window start (the popularity table's last row)
    module = RecommenderModule(model, task.items, task.users, histories, day)
    folder = Path(folder)
    with atomic_directory(folder) as tmp:
        tf.saved_model.save(module, str(tmp / "saved_model"), signatures={
            "recommend_items": module.recommend_items, "recommend_customer": module.recommend_customer})
        catalogue = pd.DataFrame({"item_id": task.items.astype(str), "warm": np.arange(len(task.items)) < task.n_warm})
        if titles is not None:
            catalogue["title"] = titles.reindex(task.items).fillna("").to_numpy()
        catalogue.to_parquet(tmp / "items.parquet", index=False)
        pd.DataFrame({"customer_id": task.users.astype(str), "history_items": histories.mask.sum(axis=1).astype(int)}
                     ).to_parquet(tmp / "customers.parquet", index=False)
        files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        stamp = dt.datetime.now(dt.timezone.utc)
        write_json(tmp / "metadata.json", {
            "format": FORMAT,
            "version": version or f"{stamp:%Y%m%d-%H%M%S}-{files['saved_model/saved_model.pb'][:8]}",
            "exported_at": stamp.isoformat(timespec="seconds"), "as_of": str(task.start.date()),
            "items": len(task.items), "warm_items": int(task.n_warm), "customers": len(task.users),
            "max_history": max_history, "signatures": ["recommend_items", "recommend_customer"],
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
