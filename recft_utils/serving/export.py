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

When step 3's rule serves a blend (or the classical model alone), the SavedModel
also holds the classical part (:class:`BlendPart`: the item-to-item model's
weights, EASE's dense or ItemKNN's sparse, and recent popularity, as of the
export day) and mixes the standardised scores exactly as
:class:`~recft_utils.models.blend.ScoreBlend` does offline; it then keeps each
customer's whole history (the item-to-item model reads every product bought; the
two-tower's user tower reads the ``max_history`` most recent) and searches
exactly (the approximate index ranks by the two-tower's scores only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recft_utils.artefacts import atomic_directory, sha256_file, write_json
from recft_utils.errors import ParameterError
from recft_utils.keras_backend import tf
from recft_utils.models.training_data import day_index, origin, window_histories
from recft_utils.run import Run
from recft_utils.serving.ann import ANN_MIN_ITEMS, INDEX_FILE, AnnIndex, AnnSettings
from recft_utils.serving.model_folder import FORMAT, HISTORIES_FILE, METADATA, CustomerHistories

SIGNATURES = ("recommend_items", "user_vectors")


@dataclass
class BlendPart:
    """The classical part of a served blend, as of the export day: the item-to-item model's weights
    (EASE's dense matrix or ItemKNN's sparse one), each item's recent popularity, the item-to-item
    model's weight against popularity, and the two-tower's weight against the classical part (0: the
    classical model alone). ``description`` goes to the metadata."""

    item_weights: np.ndarray | sp.spmatrix  # (items, items): the item-to-item scores are bought @ item_weights
    popularity: np.ndarray  # (items,) customers per item in the recent window
    classical_weight: float
    weight: float
    description: dict

    @classmethod
    def of(cls, classical, weight: float, name: str) -> "BlendPart":
        """From a fitted ``ScoreBlend(item-to-item model, Popularity)`` (the fair bar) and the two-tower's
        ``weight``."""
        item_model, popularity = classical.first, classical.second
        weights = item_model.item_weights
        return cls(
            weights if sp.issparse(weights) else np.asarray(weights),
            np.asarray(popularity.counts, np.float64),
            float(classical.weight),
            float(weight),
            {
                "model": name,
                "weight": float(weight),
                "classical_weight": float(classical.weight),
                "classical": classical.name,
                "item_model": item_model.name,
                "popularity_days": popularity.days,
            },
        )


def _standardise(scores):
    """Each row to mean 0 and deviation 1, as :func:`~recft_utils.models.blend.standardise` (float64)."""
    spread = tf.math.reduce_std(scores, axis=1, keepdims=True)
    return (scores - tf.reduce_mean(scores, axis=1, keepdims=True)) / tf.where(spread > 0, spread, 1.0)


class RecommenderModule(tf.Module):
    """The exported computation: the catalogue's vectors and prior as TensorFlow variables, an id lookup
    table, and with ``blend`` (a :class:`BlendPart`) the classical part it is mixed with."""

    def __init__(self, model, item_ids: np.ndarray, day: int, max_history: int, blend: BlendPart | None = None):
        super().__init__()
        self.model = model  # its user tower is called as is, so serving scores exactly like training
        self.max_history = max_history  # the user tower reads the most recent ones, as in training
        self.item_vectors = tf.Variable(np.asarray(model.item_matrix()), trainable=False, name="item_vectors")
        self.prior = tf.Variable(np.asarray(model.item_prior(np.array([day])))[0], trainable=False, name="prior")
        self.item_ids = tf.Variable(np.asarray(item_ids).astype(str), trainable=False, name="item_ids")
        self.item_rows = _lookup(item_ids)
        self.blend = blend is not None
        if blend is not None:
            self.sparse = sp.issparse(blend.item_weights)
            if self.sparse:  # stored transposed, in row order: the product is Wᵀ · boughtᵀ
                transposed = blend.item_weights.T.tocsr().tocoo()
                self.weight_indices = tf.Variable(
                    np.stack([transposed.row, transposed.col], axis=1).astype(np.int64),
                    trainable=False,
                    name="item_weight_indices",
                )
                self.item_weights = tf.Variable(
                    transposed.data.astype(np.float64), trainable=False, name="item_weights"
                )
            else:
                self.item_weights = tf.Variable(blend.item_weights, trainable=False, name="item_weights")
            self.popularity = tf.Variable(blend.popularity, trainable=False, name="popularity")
            self.blend_weights = tf.Variable(
                [blend.weight, blend.classical_weight], dtype=tf.float64, trainable=False, name="blend_weights"
            )

    def _users(self, items, ages):
        """Rows, mask and user vectors of (batch, n) item ids."""
        rows = self.item_rows.lookup(items)
        mask = tf.cast(rows >= 0, tf.float32)
        columns = tf.maximum(rows, 0)
        recent = {
            "items": columns[:, : self.max_history],
            "ages": ages[:, : self.max_history],
            "mask": mask[:, : self.max_history],
        }
        return columns, mask, self.model.user_vectors(recent, self.item_vectors)

    def _item_to_item(self, bought):
        """The item-to-item model's scores of ``bought`` (batch, items): ``bought @ W``, dense or sparse."""
        if self.sparse:
            n_items = tf.shape(self.popularity, out_type=tf.int64)[0]
            transposed = tf.sparse.SparseTensor(self.weight_indices, self.item_weights, tf.stack([n_items, n_items]))
            return tf.transpose(tf.sparse.sparse_dense_matmul(transposed, tf.cast(bought, tf.float64), adjoint_b=True))
        return tf.cast(tf.matmul(tf.cast(bought, self.item_weights.dtype), self.item_weights), tf.float64)

    def _blended(self, scores, bought):
        """The two-tower's ``scores`` mixed with the item-to-item model (on ``bought``, the whole history)
        and popularity."""
        weight, classical_weight = self.blend_weights[0], self.blend_weights[1]
        item_to_item = self._item_to_item(bought)
        popularity = tf.broadcast_to(self.popularity[None, :], tf.shape(item_to_item))
        classical = classical_weight * _standardise(item_to_item) + (1 - classical_weight) * _standardise(popularity)
        return weight * _standardise(tf.cast(scores, tf.float64)) + (1 - weight) * _standardise(classical)

    def _blocked(self, rows, n_items):
        """(batch, items) 1.0 at each row's ids (-1: unknown or padding, none); a scatter, not a
        one-hot, so that 1,000 excluded ids of a 100,000-item catalogue stay a small tensor."""
        where = tf.where(rows >= 0)
        indices = tf.stack([where[:, 0], tf.gather_nd(rows, where)], axis=1)
        shape = tf.stack([tf.shape(rows, out_type=tf.int64)[0], tf.cast(n_items, tf.int64)])
        return tf.minimum(tf.scatter_nd(indices, tf.ones(tf.shape(where)[:1]), shape), 1.0)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.string, name="items"),
            tf.TensorSpec([None, None], tf.float32, name="ages"),
            tf.TensorSpec([None, None], tf.string, name="exclude"),
            tf.TensorSpec([], tf.bool, name="exclude_history"),
            tf.TensorSpec([], tf.int32, name="k"),
        ]
    )
    def recommend_items(self, items, ages, exclude, exclude_history, k):
        columns, mask, user = self._users(items, ages)
        scores = tf.matmul(user, self.item_vectors, transpose_b=True) + self.prior[None, :]
        n_items = tf.shape(self.item_vectors)[0]
        blocked = self._blocked(self.item_rows.lookup(exclude), n_items)
        own = self._blocked(tf.where(mask > 0, columns, -1), n_items)
        if self.blend:
            scores = self._blended(scores, own)
        blocked = tf.maximum(blocked, tf.cast(exclude_history, tf.float32) * own)
        scores = tf.where(blocked > 0, tf.constant(-np.inf, scores.dtype), scores)
        top = tf.math.top_k(scores, k=tf.minimum(k, n_items))
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": tf.cast(top.values, tf.float32)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.string, name="items"),
            tf.TensorSpec([None, None], tf.float32, name="ages"),
        ]
    )
    def user_vectors(self, items, ages):
        return {"user_vectors": self._users(items, ages)[2]}


def _lookup(keys: np.ndarray) -> tf.lookup.StaticHashTable:
    """id → row; unknown ids → -1."""
    keys = tf.constant(np.asarray(keys).astype(str))
    values = tf.range(tf.size(keys, out_type=tf.int64), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1)


def export_recommender(
    model,
    task,
    folder,
    titles: pd.Series | None = None,
    version: str | None = None,
    max_history: int = 50,
    source: dict | None = None,
    ann: bool | None = None,
    ann_settings: AnnSettings | None = None,
    blend: BlendPart | None = None,
    name: str | None = None,
) -> Path:
    """Write the model folder for ``model`` (a :class:`~recft_utils.models.two_tower.TextTwoTower`
    fitted on ``task``), scoring as of ``task.start``, atomically.

    ``titles`` (item id → title) go to ``items.parquet``; ``version``
    defaults to the export time and the checksum of the SavedModel;
    ``source`` (e.g. the run folder and settings) is recorded in the metadata.
    ``ann``: write ``index.usearch`` (True), or not (False); by default when the
    catalogue has more than ``ANN_MIN_ITEMS`` items and the model is not a blend.
    ``blend``: serve the two-tower mixed with this classical part (see :class:`BlendPart`);
    ``name``: the served model's name, for the service and the model card.
    """
    if blend is not None and ann:
        raise ParameterError(
            "An approximate index ranks by the two-tower's scores alone; a blend is searched "
            "exactly. Export it with ann=False (the default)."
        )
    # the item-to-item model reads every product a customer bought; the two-tower the most recent max_history
    stored = max_history if blend is None else max(max_history, int(np.diff(task.matrix.indptr).max(initial=1)))
    histories = window_histories(task, np.arange(len(task.users)), stored)
    day = int(day_index([task.start], origin(task))[0])  # the window start (the popularity table's last row)
    module = RecommenderModule(model, task.items, day, max_history, blend)
    with_index = (len(task.items) > ANN_MIN_ITEMS and blend is None) if ann is None else bool(ann)
    folder = Path(folder)
    with atomic_directory(folder) as tmp:
        tf.saved_model.save(
            module, str(tmp / "saved_model"), signatures={name: getattr(module, name) for name in SIGNATURES}
        )
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
        write_json(
            tmp / METADATA,
            {
                "format": FORMAT,
                "version": version or f"{stamp:%Y%m%d-%H%M%S}-{files['saved_model/saved_model.pb'][:8]}",
                "exported_at": stamp.isoformat(timespec="seconds"),
                "as_of": str(task.start.date()),
                "items": len(task.items),
                "warm_items": int(task.n_warm),
                "customers": len(task.users),
                "max_history": max_history,
                "stored_history": stored,
                "signatures": list(SIGNATURES),
                "histories": HISTORIES_FILE,
                "ann": index.describe() if index is not None else None,
                "model": name or (blend.description["model"] if blend is not None else "two-tower"),
                "blend": blend.description if blend is not None else None,
                "source": source or {},
                "files": files,
            },
        )
    return folder


@dataclass
class Served:
    """Step 3's served model on a task: the recommender every evaluation uses, the two-tower inside
    the export (there even at weight 0), the classical part the export adds, and the model's name."""

    model: object
    two_tower: object
    blend: BlendPart | None
    name: str


def served_model(run_dir, task) -> Served:
    """Step 3's served model of ``run_dir`` fitted on ``task`` (the test task).

    ``served_choice.json`` says which candidate step 3's rule chose and, for the
    classical model or a blend, the settings of step 1's classical bar and the blend's weight.
    """
    from recft_utils.experiments.serving_choice import served_blend
    from recft_utils.models.blend import ScoreBlend
    from recft_utils.models.fair_baselines import classical_with_popularity
    from recft_utils.models.two_tower_files import recommender_from_run  # Keras only where a Keras model is read

    choice = Run(run_dir).read("03b_fine_tuning", Run.SERVED_CHOICE)
    two_tower, blend = recommender_from_run(run_dir, task), served_blend(choice)
    if blend is None:
        return Served(two_tower, two_tower, None, choice["model"])
    classical = classical_with_popularity(task, blend["classical"])
    weight = blend["weight"]
    model = classical if weight == 0 else ScoreBlend(two_tower, classical, weight, name=choice["model"]).fit(task)
    return Served(model, two_tower, BlendPart.of(classical, weight, choice["model"]), choice["model"])


def export_served(
    served: Served, task, folder, titles=None, max_history: int = 50, source: dict | None = None, **options
) -> Path:
    """:func:`export_recommender` for a :class:`Served` model."""
    return export_recommender(
        served.two_tower.model,
        task,
        folder,
        titles,
        max_history=max_history,
        source=source,
        blend=served.blend,
        name=served.name,
        **options,
    )


def export_run(run_dir, out=None) -> Path:
    """Export step 3's served model of ``run_dir`` (default destination ``run_dir/04_serving/model``)."""
    run = Run(run_dir)
    task = run.task("test")
    out = Path(out) if out is not None else run.path("04_serving", Run.EXPORTED_MODEL)
    return export_served(
        served_model(run_dir, task),
        task,
        out,
        run.titles(),
        max_history=run.model_config()["max_history"],
        source={"run_dir": str(run_dir)},
    )
