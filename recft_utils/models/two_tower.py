"""A two-tower recommender whose item tower reads product text.

Item tower: the pretrained encoder's sentence embedding of each product
title (computed once: the *frozen* regime) through a trained adapter, plus
optionally an ID embedding for items seen in training. New products have
text, so they are scored like any other.

User tower: the customer's earlier items, most recent first, pooled with
attention weights that decay with the age of each purchase (the decay is
learned), then a residual dense layer.

Score: ``user · item + item bias + w · log(1 + recent purchases of the item)``,
where recent popularity is looked up for the day of the prediction, so the
model learns seasonality without seeing the future.

Training: one example per order that bought something new (see
:mod:`recft_utils.models.training_data`); a softmax over the full catalogue
with the customer's earlier items masked out, i.e. the *discovery* task;
AdamW with linear warm-up and cosine decay, L2 and dropout; early stopping on
the validation window's discovery NDCG@10.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.models.baselines import Recommender
from recft_utils.models.training_data import (
    daily_popularity,
    multi_hot,
    order_examples,
    window_histories,
)

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the backend is chosen)
import tensorflow as tf  # noqa: E402


@dataclass(frozen=True)
class TwoTowerConfig:
    dim: int = 128
    dropout: float = 0.2
    l2: float = 1e-6
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    epochs: int = 20
    patience: int = 3
    batch_size: int = 256
    max_history: int = 50
    item_ids: bool = False
    popularity_days: int = 30

    def checked(self) -> "TwoTowerConfig":
        """Refuse values that cannot train, before any work starts."""
        positive = ("dim", "epochs", "batch_size", "max_history", "popularity_days", "learning_rate")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ParameterError(f"Two-tower {name} must be positive, got {getattr(self, name)}.")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"Two-tower dropout must be in [0, 1), got {self.dropout}.")
        if self.l2 < 0 or self.weight_decay < 0 or not 0 <= self.warmup_fraction < 1:
            raise ParameterError("l2 and weight_decay must be >= 0 and warmup_fraction in [0, 1).")
        return self


@keras.saving.register_keras_serializable(package="recft")
class TextTwoTower(keras.Model):
    """The Keras model: inputs ``items, ages, mask, day, seen``; output: logits over the catalogue.

    The catalogue's text vectors and the popularity table are non-trainable
    weights, so a saved ``.keras`` file carries everything needed to score.
    """

    def __init__(self, n_items: int, text_dim: int, n_days: int, n_warm: int, dim: int = 128,
                 dropout: float = 0.2, l2: float = 1e-6, item_ids: bool = False,
                 item_vectors=None, popularity=None, **kwargs):
        super().__init__(**kwargs)
        self.settings = {"n_items": n_items, "text_dim": text_dim, "n_days": n_days, "n_warm": n_warm,
                         "dim": dim, "dropout": dropout, "l2": l2, "item_ids": item_ids}
        regulariser = keras.regularizers.L2(l2) if l2 else None

        def constant(value):
            return keras.initializers.Constant(value) if value is not None else "zeros"

        self.text = self.add_weight(shape=(n_items, text_dim), trainable=False, name="item_text",
                                    initializer=constant(item_vectors))
        self.popularity = self.add_weight(shape=(n_days, n_items), trainable=False, name="popularity",
                                          initializer=constant(popularity))
        self.adapter = keras.layers.Dense(dim, kernel_regularizer=regulariser, name="adapter")
        self.ids = keras.layers.Embedding(
            n_items, dim, name="item_ids", embeddings_regularizer=regulariser,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.user = keras.layers.Dense(dim, kernel_regularizer=regulariser, name="user")
        self.dropout = keras.layers.Dropout(dropout)
        self.bias = self.add_weight(shape=(n_items,), initializer="zeros", name="item_bias")
        self.decay = self.add_weight(shape=(), name="recency_decay", initializer=keras.initializers.Constant(0.5))
        self.popularity_weight = self.add_weight(shape=(), name="popularity_weight",
                                                 initializer=keras.initializers.Constant(1.0))
        self.warm = tf.constant((np.arange(n_items) < n_warm).astype(np.float32)[:, None])

    def get_config(self):
        return {**super().get_config(), **self.settings}

    def build(self, input_shape=None):
        self.adapter.build((None, self.settings["text_dim"]))
        self.ids.build((None,))
        self.user.build((None, self.settings["dim"]))
        self.built = True

    def item_matrix(self):
        vectors = self.adapter(self.text)
        if self.settings["item_ids"]:  # new items have no trained ID: text only
            vectors = vectors + self.ids(tf.range(self.settings["n_items"])) * self.warm
        return vectors

    def call(self, inputs, training=False):
        items_v = self.item_matrix()
        # Keras may hand indices over as floats (it does under MirroredStrategy)
        history = tf.gather(items_v, tf.cast(inputs["items"], "int32"))
        logits = -tf.nn.softplus(self.decay) * tf.math.log1p(inputs["ages"])
        weights = tf.nn.softmax(logits + (inputs["mask"] - 1.0) * 1e9, axis=1)
        user = tf.reduce_sum(weights[..., None] * history, axis=1)
        user = user + self.user(self.dropout(user, training=training))
        scores = tf.matmul(user, items_v, transpose_b=True) + self.bias
        scores += self.popularity_weight * tf.gather(self.popularity, tf.cast(inputs["day"], "int32"))
        return scores - inputs["seen"] * 1e9


def build_model(item_vectors: np.ndarray, popularity: np.ndarray, n_warm: int, config: TwoTowerConfig):
    """A :class:`TextTwoTower` for one catalogue, initialised with its text vectors."""
    return TextTwoTower(
        n_items=item_vectors.shape[0], text_dim=item_vectors.shape[1], n_days=popularity.shape[0],
        n_warm=n_warm, dim=config.dim, dropout=config.dropout, l2=config.l2, item_ids=config.item_ids,
        item_vectors=item_vectors, popularity=popularity)


@keras.saving.register_keras_serializable(package="recft")
def softmax_over_catalogue(y_true, logits):
    """Multi-label softmax cross-entropy: mean log-probability of the order's new items."""
    log_p = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_sum(y_true * log_p, axis=-1) / tf.maximum(tf.reduce_sum(y_true, axis=-1), 1.0)


def _optimizer(config: TwoTowerConfig, steps: int):
    warmup = int(steps * config.warmup_fraction)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(steps - warmup, 1), warmup_target=config.learning_rate, warmup_steps=warmup)
    return keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)


class TwoTowerRecommender(Recommender):
    """Fit on a task's history, score its evaluated customers over the full catalogue.

    ``item_vectors``: a DataFrame of text embeddings indexed by item id (all
    items of the dataset; each task takes its catalogue from it).
    ``valid_task``: when given, the number of epochs is chosen by early
    stopping on its window (training on its own, earlier history) and the
    model is then refitted on the task's full history for that many epochs.
    """

    scores_cold_items = True

    def __init__(self, item_vectors: pd.DataFrame, config: TwoTowerConfig | None = None, seed: int = 0,
                 strategy: str = "default", valid_task=None, name: str = "two-tower (frozen encoder)",
                 verbose: int = 0):
        from recft_utils.models.distribute import check_strategy

        check_strategy(strategy)
        self.item_vectors = item_vectors
        self.config = (config or TwoTowerConfig()).checked()
        self.seed, self.strategy, self.valid_task, self.name, self.verbose = seed, strategy, valid_task, name, verbose
        self.stats: dict = {}

    # -- training -----------------------------------------------------------
    def _train(self, task, epochs: int, monitor=None):
        from recft_utils.models.distribute import get_strategy

        keras.utils.set_random_seed(self.seed)
        config = self.config
        histories, targets, seen = order_examples(task, config.max_history)
        if len(histories) == 0:
            raise ParameterError("No training examples: no customer bought something new after a first order.")
        n_items = len(task.items)
        x = {**histories.as_inputs(), "seen": multi_hot(seen, n_items)}
        y = multi_hot(targets, n_items)
        vectors = self.item_vectors.reindex(task.items).to_numpy(dtype=np.float32)
        steps = epochs * int(np.ceil(len(histories) / config.batch_size))
        with get_strategy(self.strategy).scope():
            model = build_model(vectors, daily_popularity(task, config.popularity_days), task.n_warm, config)
            model.compile(optimizer=_optimizer(config, steps), loss=softmax_over_catalogue)
        callbacks = [EarlyStoppingOnNDCG(self, monitor, config.patience)] if monitor is not None else []
        started = time.perf_counter()
        history = model.fit(x, y, batch_size=config.batch_size, epochs=epochs, shuffle=True,
                            verbose=self.verbose, callbacks=callbacks)
        seconds = time.perf_counter() - started
        self.stats = {
            "train_examples": len(histories), "epochs_run": len(history.history["loss"]),
            "train_seconds": seconds,
            "examples_per_second": len(histories) * len(history.history["loss"]) / seconds,
            "final_loss": float(history.history["loss"][-1]),
        }
        return model, callbacks[0] if callbacks else None

    def select_epochs(self) -> int:
        """Early stopping on the validation window: the best epoch count."""
        model, stopper = self._train(self.valid_task, self.config.epochs, monitor=self.valid_task)
        self.validation_curve = stopper.curve
        return stopper.best_epoch

    def fit(self, task, epochs: int | None = None):
        super().fit(task)
        if epochs is None:
            epochs = self.select_epochs() if self.valid_task is not None else self.config.epochs
        self.epochs = epochs
        self.model, _ = self._train(task, epochs)
        return self

    # -- scoring ------------------------------------------------------------
    def _logits(self, model, task, rows: np.ndarray) -> np.ndarray:
        histories = window_histories(task, rows, self.config.max_history)
        inputs = {**histories.as_inputs(), "seen": np.zeros((len(rows), len(task.items)), np.float32)}
        return np.asarray(model.predict_on_batch(inputs))

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self._logits(self.model, self.task, user_rows)


class EarlyStoppingOnNDCG(keras.callbacks.Callback):
    """Discovery NDCG@10 on a validation task after every epoch.

    Keeps the best weights and the epoch they came from; stops after
    ``patience`` epochs without improvement.
    """

    def __init__(self, recommender, task, patience: int):
        super().__init__()
        self.recommender, self.task, self.patience = recommender, task, patience
        self.best, self.best_epoch, self.wait, self.curve = -1.0, 0, 0, []
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        from recft_utils.evaluation import evaluate

        scorer = _FixedScorer(lambda rows: self.recommender._logits(self.model, self.task, rows))
        ndcg = float(evaluate(scorer, self.task, views=("discovery",))["discovery"]["ndcg"].mean())
        self.curve.append({"epoch": epoch + 1, "loss": float(logs["loss"]), "valid_ndcg@10": ndcg})
        if ndcg > self.best:
            self.best, self.best_epoch, self.wait = ndcg, epoch + 1, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class _FixedScorer:
    scores_cold_items = True

    def __init__(self, function):
        self.score = function


def encode_catalogue(interactions: pd.DataFrame, encoder, batch_size: int = 128,
                     progress: bool = False) -> pd.DataFrame:
    """Sentence embeddings of every item's latest normalised title, indexed by item id."""
    from recft_utils.text.augmentation import normalise_title

    latest = interactions.sort_values("timestamp").drop_duplicates("item_id", keep="last")
    latest = latest.sort_values("item_id")
    titles = [normalise_title(t) for t in latest["item_text"]]
    vectors = encoder.encode(titles, batch_size=batch_size, progress=progress)
    return pd.DataFrame(vectors, index=pd.Index(latest["item_id"].to_numpy(), name="item_id"))


def config_with(config: TwoTowerConfig, **changes) -> TwoTowerConfig:
    """A copy of ``config`` with some values changed (validated)."""
    unknown = set(changes) - set(asdict(config))
    if unknown:
        raise ParameterError(f"Unknown two-tower setting(s) {sorted(unknown)}; known: {sorted(asdict(config))}.")
    return replace(config, **changes).checked()


def save_model(model: TextTwoTower, path) -> Path:
    """Save in the Keras format, atomically (``path`` must end with ``.keras``)."""
    from recft_utils.artefacts import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ParameterError(f"{path}: a Keras model file must end with .keras.")
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def load_model(path) -> TextTwoTower:
    """Load a saved two-tower model; a missing or damaged file gets a clear error."""
    from recft_utils.errors import MissingArtefactError, RecftError

    path = Path(path)
    if not path.exists():
        raise MissingArtefactError(f"{path} does not exist: run notebook 03 (`recft run --notebooks 01,02,03`).")
    try:
        return keras.saving.load_model(path, compile=False)  # scoring needs no optimizer
    except Exception as exc:  # zip, h5 and config errors all mean the same to a user
        raise RecftError(f"{path} is not a loadable two-tower model ({type(exc).__name__}: {exc}). "
                         f"Re-run notebook 03 to write it again.") from exc
