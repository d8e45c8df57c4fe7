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
:mod:`recft_utils.models.training_data`); a softmax over the products on sale
that day (those first sold later, new products above all, are no negatives:
they did not exist yet) with the customer's earlier items masked out, i.e. the *discovery* task;
AdamW with linear warm-up and cosine decay, L2 and dropout; early stopping on
the validation window's discovery NDCG@10. Each batch expands its own targets and
masks (:mod:`recft_utils.models.streaming`): memory grows with purchases, not with
examples × catalogue; above 20,000 products the softmax is sampled, logQ-corrected.
Under the ``multi_worker`` strategy the same step runs on every worker
(:mod:`recft_utils.models.multi_worker`).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from recft_utils.datasets.preparation import catalogue_titles
from recft_utils.errors import ParameterError
from recft_utils.models.baselines import Recommender
from recft_utils.run import Run
from recft_utils.models.training_data import (
    daily_popularity,
    first_sale_days,
    order_examples,
    window_histories,
)

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the backend is chosen)
import tensorflow as tf  # noqa: E402

from recft_utils.models.optimization import OptimizerSettings, scale_for_replicas, unscale_for_replicas  # noqa: E402
from recft_utils.models.streaming import (  # noqa: E402
    DEFAULT_NEGATIVES,
    SAMPLED_SOFTMAX_MIN_ITEMS,
    as_constants,
    batch_columns,
    dense_rows,
    draw,
    membership,
    popularity_sampler,
)

# Each fit builds a new model, so Keras traces new functions on purpose; TF's "retracing" warnings
# about that would only alarm a learner.
tf.get_logger().setLevel("ERROR")


@dataclass(frozen=True)
class TwoTowerConfig(OptimizerSettings):
    label = "two-tower setting"  # for error messages (a class attribute, not a field)

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
    item_ids: bool = False  # add an ID embedding to each warm item's text vector
    text: bool = True  # the item tower reads the title; False: IDs only (an ablation, a classical model)
    popularity_prior: bool = True  # add the learned weight x recent popularity; False: item bias only (an ablation)
    on_sale_negatives: bool = True  # train against the products on sale that day only; False: the whole catalogue
    text_prior: bool = False  # add a demand learned from the title to every item's prior (new products too)
    popularity_days: int = 30
    adversarial_epsilon: float = 0.0  # FGM step on the text vectors (unit norm); 0 = off
    # negatives of a sampled softmax (see models.streaming): None = automatic (the full softmax up to
    # SAMPLED_SOFTMAX_MIN_ITEMS products, DEFAULT_NEGATIVES above), 0 = always the full softmax
    sampled_negatives: int | None = None
    # at most this many training examples, a seeded sample (None: all): the tiny profile's budget, so that a
    # smoke test on a grocery chain's heavy buyers trains in seconds like one on a gift shop's
    max_examples: int | None = None

    def checked(self) -> "TwoTowerConfig":
        """Refuse values that cannot train, before any work starts."""
        self.check_optimizer()
        positive = ("dim", "epochs", "batch_size", "max_history", "popularity_days")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ParameterError(f"Two-tower {name} must be positive, got {getattr(self, name)}.")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"Two-tower dropout must be in [0, 1), got {self.dropout}.")
        if self.adversarial_epsilon < 0:
            raise ParameterError(f"adversarial_epsilon must be >= 0, got {self.adversarial_epsilon}.")
        if self.l2 < 0:
            raise ParameterError(f"Two-tower l2 must be >= 0, got {self.l2}.")
        if self.max_examples is not None and self.max_examples <= 0:
            raise ParameterError(f"max_examples must be positive (None: every example), got {self.max_examples}.")
        if self.sampled_negatives is not None and self.sampled_negatives < 0:
            raise ParameterError(f"sampled_negatives must be >= 0 (0: the full softmax), got {self.sampled_negatives}.")
        if not (self.text or self.item_ids):
            raise ParameterError("A two-tower item tower needs text, item IDs or both (text=False needs item_ids=True).")
        return self

    def negatives_for(self, n_items: int) -> int:
        """Negatives per step of the sampled softmax for a catalogue of ``n_items`` (0: the full softmax)."""
        if self.sampled_negatives is not None:
            return self.sampled_negatives
        return DEFAULT_NEGATIVES if n_items > SAMPLED_SOFTMAX_MIN_ITEMS else 0

    @classmethod
    def from_saved(cls, saved: dict) -> "TwoTowerConfig":
        """The setting stored in a run's ``two_tower_config.json`` (which also holds epochs chosen, seed, ...)."""
        return cls(**{k: v for k, v in saved.items() if k in cls.__dataclass_fields__})


@keras.saving.register_keras_serializable(package="recft")
class TextTwoTower(keras.Model):
    """The Keras model: inputs ``items, ages, mask, day, seen``; output: logits over the catalogue.

    The catalogue's text vectors and the popularity table are non-trainable
    weights, so a saved ``.keras`` file carries everything needed to score.
    """

    def __init__(self, n_items: int, text_dim: int, n_days: int, n_warm: int, dim: int = 128,
                 dropout: float = 0.2, l2: float = 1e-6, item_ids: bool = False, text: bool = True,
                 popularity_prior: bool = True, text_prior: bool = False, item_vectors=None, popularity=None,
                 first_day=None, **kwargs):
        super().__init__(**kwargs)
        self.settings = {"n_items": n_items, "text_dim": text_dim, "n_days": n_days, "n_warm": n_warm,
                         "dim": dim, "dropout": dropout, "l2": l2, "item_ids": item_ids, "text": text,
                         "popularity_prior": popularity_prior, "text_prior": text_prior}
        regulariser = keras.regularizers.L2(l2) if l2 else None

        def constant(value):
            return keras.initializers.Constant(value) if value is not None else "zeros"

        self.text = self.add_weight(shape=(n_items, text_dim), trainable=False, name="item_text",
                                    initializer=constant(item_vectors))
        self.popularity = self.add_weight(shape=(n_days, n_items), trainable=False, name="popularity",
                                          initializer=constant(popularity))
        # day each item went on sale (zeros: all on sale from day 0); training only, see training_logits
        self.first_day = self.add_weight(shape=(n_items,), trainable=False, name="first_sale_day",
                                         initializer=constant(first_day))
        self.adapter = keras.layers.Dense(dim, kernel_regularizer=regulariser, name="adapter")
        self.ids = keras.layers.Embedding(
            n_items, dim, name="item_ids", embeddings_regularizer=regulariser,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.user = keras.layers.Dense(dim, kernel_regularizer=regulariser, name="user")
        self.dropout = keras.layers.Dropout(dropout)
        self.bias = self.add_weight(shape=(n_items,), initializer="zeros", name="item_bias")
        self.decay = self.add_weight(shape=(), name="recency_decay", initializer=keras.initializers.Constant(0.5))
        # without the prior the weight stays 0: the same graph, with no popularity in the scores
        self.popularity_weight = self.add_weight(shape=(), name="popularity_weight", trainable=popularity_prior,
                                                 initializer=keras.initializers.Constant(float(popularity_prior)))
        self.warm = tf.constant((np.arange(n_items) < n_warm).astype(np.float32)[:, None])
        # created only when asked for, so that the default model's initialisation stays as it was
        self.demand = keras.layers.Dense(1, kernel_regularizer=regulariser, name="text_demand") if text_prior else None
        # training-only options (not saved: a loaded model scores, it does not train): the examples' target
        # and earlier-item lists (models.streaming.as_constants), the sampled softmax's sampler
        self.title_variants, self.adversarial_epsilon = None, 0.0
        self.examples, self.sampler = None, None
        self.loss_tracker = keras.metrics.Mean(name="loss")  # the mean training loss of an epoch

    @property
    def metrics(self):
        return [self.loss_tracker]  # reset by fit at each epoch

    def get_config(self):
        return {**super().get_config(), **self.settings}

    def build(self, input_shape=None):
        self.adapter.build((None, self.settings["text_dim"]))
        self.ids.build((None,))
        self.user.build((None, self.settings["dim"]))
        if self.demand is not None:
            self.demand.build((None, self.settings["text_dim"]))
        self.built = True

    def item_matrix(self, text=None):
        vectors = self.adapter(self.text if text is None else text)
        if not self.settings["text"]:  # IDs only: the adapter's output is not used
            vectors = tf.zeros_like(vectors)
        if self.settings["item_ids"]:  # new items have no trained ID: text only
            vectors = vectors + self.ids(tf.range(self.settings["n_items"])) * self.warm
        return vectors

    def item_rows(self, columns, text=None):
        """:meth:`item_matrix` for ``columns`` only (the sampled softmax needs a few thousand rows, not all);
        ``text``: those rows' text vectors (default :meth:`row_text`)."""
        vectors = self.adapter(self.row_text(columns) if text is None else text)
        if not self.settings["text"]:
            vectors = tf.zeros_like(vectors)
        if self.settings["item_ids"]:
            vectors = vectors + self.ids(columns) * tf.gather(self.warm, columns)
        return vectors

    def row_text(self, columns):
        """The text vectors of ``columns``: a variant of each title drawn at every step when there are
        variants, as :meth:`_training_text` does for the whole catalogue."""
        if self.title_variants is None:
            return tf.gather(self.text, columns)
        pick = tf.random.uniform(tf.shape(columns), maxval=self.title_variants.shape[0], dtype="int32")
        return tf.gather_nd(self.title_variants, tf.stack([pick, columns], axis=1))

    def user_vectors(self, inputs, items_v, training=False):
        """Recency-weighted pooling of the history's item vectors (a softmax over a learned decay by age, not
        attention: the weights ignore what the items are), plus a residual layer."""
        # Keras may hand indices over as floats (it does under MirroredStrategy)
        return self.pool(inputs, tf.gather(items_v, tf.cast(inputs["items"], "int32")), training)

    def pool(self, inputs, history, training=False):
        """:meth:`user_vectors` from the history's item vectors themselves, (batch, history, dim)."""
        logits = -tf.nn.softplus(self.decay) * tf.math.log1p(inputs["ages"])
        weights = tf.nn.softmax(logits + (inputs["mask"] - 1.0) * 1e9, axis=1)
        user = tf.reduce_sum(weights[..., None] * history, axis=1)
        return user + self.user(self.dropout(user, training=training))

    def item_prior(self, day, columns=None):
        """Item bias plus weighted recent popularity on ``day`` (plus the title's demand, with ``text_prior``):
        (batch, items or columns)."""
        prior = self.bias[None, :] + self.popularity_weight * tf.gather(self.popularity, tf.cast(day, "int32"))
        if self.demand is not None:  # what the title says about demand: the only prior a new product has
            prior += self.demand(self.text)[None, :, 0]
        return prior if columns is None else tf.gather(prior, columns, axis=1)

    def prior_of(self, day, columns):
        """:meth:`item_prior` for ``columns`` only, computed on those columns: (batch, columns)."""
        popularity = tf.gather(tf.gather(self.popularity, columns, axis=1), tf.cast(day, "int32"))
        prior = tf.gather(self.bias, columns)[None, :] + self.popularity_weight * popularity
        if self.demand is not None:
            prior += self.demand(tf.gather(self.text, columns))[None, :, 0]
        return prior

    def call(self, inputs, training=False):
        return self.scores(inputs, self.item_matrix(), training)

    def train_step(self, data):
        """Keras's own training step (keras 3.15's TF trainer) with two options inside it.

        - Augmented titles: with ``title_variants`` set (variants, items, text_dim),
          each item's text vector is drawn among its variants at every step.
        - FGM adversarial training (Miyato et al., 2017): with ``adversarial_epsilon`` > 0,
          the loss is also taken on text vectors pushed by ``epsilon`` along the
          normalised gradient of the loss, the direction that hurts most.
        """
        x, rows = data[0], tf.cast(data[1], "int32")  # y is each example's row: its lists, expanded here
        if self.sampler is not None:
            return self._sampled_train_step(x, rows)
        targets, seen = self.examples
        x = {**x, "seen": dense_rows(seen, rows, self.settings["n_items"])}
        y = dense_rows(targets, rows, self.settings["n_items"])
        text = self._training_text()
        adversarial = self.adversarial_epsilon > 0
        with tf.GradientTape() as tape:
            with tf.GradientTape() if adversarial else contextlib.nullcontext() as inner:
                if adversarial:
                    inner.watch(text)
                logits = self.training_logits(x, self.item_matrix(text))
                loss = self.compute_loss(x=x, y=y, y_pred=logits, training=True)
            if adversarial:
                push = tf.stop_gradient(tf.math.l2_normalize(inner.gradient(loss, text), axis=-1))
                adversarial = self.training_logits(x, self.item_matrix(text + self.adversarial_epsilon * push))
                loss += scale_for_replicas(tf.reduce_mean(softmax_over_catalogue(y, adversarial)))
            self.loss_tracker.update_state(unscale_for_replicas(loss), sample_weight=tf.shape(y)[0])
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients([(g, w) for g, w in zip(gradients, self.trainable_weights) if g is not None])
        return {"loss": self.loss_tracker.result()}

    def _sampled_train_step(self, x, rows):
        """One step of the sampled softmax (see :mod:`recft_utils.models.streaming`): each example against the
        batch's targets and ``negatives`` products drawn by popularity, logQ-corrected; item vectors are
        computed for the history's and the candidates' rows only."""
        targets, seen = self.examples
        cdf, log_q, negatives = self.sampler
        n_items = self.settings["n_items"]
        positives = batch_columns(targets, rows)
        drawn = draw(cdf, negatives)
        candidates = tf.concat([positives, drawn], axis=0)
        # a drawn product that is one of the batch's targets is no negative (nor a second label)
        duplicate = tf.concat([tf.zeros_like(positives, tf.bool),
                               tf.reduce_any(tf.equal(drawn[:, None], positives[None, :]), axis=1)], axis=0)[None, :]
        history = tf.cast(x["items"], "int32")
        needed, where = tf.unique(tf.concat([tf.reshape(history, [-1]), candidates], axis=0))
        label = tf.cast(membership(targets, rows, candidates, n_items) & ~duplicate, tf.float32)
        excluded = (membership(seen, rows, candidates, n_items) | duplicate
                    | (tf.gather(self.first_day, candidates)[None, :] > tf.cast(x["day"], self.first_day.dtype)[:, None]))
        adversarial = self.adversarial_epsilon > 0
        with tf.GradientTape() as tape:
            text = self.row_text(needed)
            with tf.GradientTape() if adversarial else contextlib.nullcontext() as inner:
                if adversarial:
                    inner.watch(text)
                logits = self._sampled_logits(x, history, needed, where, text, candidates, log_q, label, excluded)
                loss = self.compute_loss(x=x, y=label, y_pred=logits, training=True)
            if adversarial:  # FGM on the rows this step reads, as the full softmax does on the catalogue
                push = tf.stop_gradient(tf.math.l2_normalize(inner.gradient(loss, text), axis=-1))
                pushed = self._sampled_logits(x, history, needed, where, text + self.adversarial_epsilon * push,
                                              candidates, log_q, label, excluded)
                loss += scale_for_replicas(tf.reduce_mean(softmax_over_catalogue(label, pushed)))
            self.loss_tracker.update_state(unscale_for_replicas(loss), sample_weight=tf.shape(rows)[0])
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients([(g, w) for g, w in zip(gradients, self.trainable_weights) if g is not None])
        return {"loss": self.loss_tracker.result()}

    def _sampled_logits(self, x, history, needed, where, text, candidates, log_q, label, excluded):
        """The sampled step's scores: the history's and candidates' vectors from ``text`` (rows ``needed``)."""
        vectors = tf.gather(self.item_rows(needed, text), where)
        split = tf.size(history)
        history_v = tf.reshape(vectors[:split], tf.concat([tf.shape(history), [-1]], axis=0))
        user = self.pool(x, history_v, training=True)
        logits = (tf.matmul(user, vectors[split:], transpose_b=True) + self.prior_of(x["day"], candidates)
                  - tf.gather(log_q, candidates)[None, :])
        return tf.where(excluded & (label == 0), -1e9, logits)

    def _training_text(self):
        if self.title_variants is None:
            return tf.convert_to_tensor(self.text)
        n_variants, n_items = self.title_variants.shape[0], self.settings["n_items"]
        pick = tf.random.uniform((n_items,), maxval=n_variants, dtype="int32")
        return tf.gather_nd(self.title_variants, tf.stack([pick, tf.range(n_items)], axis=1))

    def on_sale(self, day):
        """(batch, items): True where the item was already on sale on each example's day."""
        return self.first_day[None, :] <= tf.cast(day, self.first_day.dtype)[:, None]

    def training_logits(self, inputs, items_v):
        """Training scores: a product not yet on sale on the example's day is no candidate."""
        scores = self.scores(inputs, items_v, training=True)
        return tf.where(self.on_sale(inputs["day"]), scores, -1e9)

    def scores(self, inputs, items_v, training=False):
        user = self.user_vectors(inputs, items_v, training)
        scores = tf.matmul(user, items_v, transpose_b=True) + self.item_prior(inputs["day"])
        if "seen" not in inputs:  # a training batch before its lists are expanded (Keras's first-batch build)
            return scores
        return scores - tf.cast(inputs["seen"], scores.dtype) * 1e9


def transfer_weights(model: "TextTwoTower", previous: "TextTwoTower", items: np.ndarray, previous_items: np.ndarray):
    """Copy what ``previous`` learned into ``model``, built for a newer catalogue ``items``
    (what :meth:`TwoTowerRecommender.start_from` does with a fitted recommender).

    The adapter, the user tower, the recency decay and the popularity weight
    are copied as they are; item biases (and ID embeddings) follow their item
    id, and items ``previous`` never saw start at 0 (their text still scores
    them). The text vectors and the popularity table stay the new ones.
    """
    model.adapter.set_weights(previous.adapter.get_weights())
    model.user.set_weights(previous.user.get_weights())
    model.decay.assign(previous.decay)
    model.popularity_weight.assign(previous.popularity_weight)
    rows = pd.Series(np.arange(len(previous_items)), index=previous_items).reindex(items)
    known, source = rows.notna().to_numpy(), rows.dropna().to_numpy(dtype=int)
    bias = np.zeros(len(items), np.float32)
    bias[known] = np.asarray(previous.bias)[source]
    model.bias.assign(bias)
    if model.settings["item_ids"]:
        ids = np.asarray(model.ids.embeddings).copy()
        ids[known] = np.asarray(previous.ids.embeddings)[source]
        model.ids.embeddings.assign(ids)


def build_model(item_vectors: np.ndarray, popularity: np.ndarray, n_warm: int, config: TwoTowerConfig,
                first_day: np.ndarray | None = None):
    """A :class:`TextTwoTower` for one catalogue, initialised with its text vectors.

    ``first_day`` (see :func:`~recft_utils.models.training_data.first_sale_days`)
    is used when ``config.on_sale_negatives`` is set.
    """
    model = TextTwoTower(
        n_items=item_vectors.shape[0], text_dim=item_vectors.shape[1], n_days=popularity.shape[0],
        n_warm=n_warm, dim=config.dim, dropout=config.dropout, l2=config.l2, item_ids=config.item_ids,
        text=config.text, popularity_prior=config.popularity_prior, text_prior=config.text_prior,
        item_vectors=item_vectors, popularity=popularity,
        first_day=first_day if config.on_sale_negatives else None)
    model.build()  # its own training step does not call the model, so nothing else would build it
    return model


@keras.saving.register_keras_serializable(package="recft")
def softmax_over_catalogue(y_true, logits):
    """Multi-label softmax cross-entropy: mean log-probability of the order's new items."""
    log_p = tf.nn.log_softmax(logits, axis=-1)
    y_true = tf.cast(y_true, log_p.dtype)
    return -tf.reduce_sum(y_true * log_p, axis=-1) / tf.maximum(tf.reduce_sum(y_true, axis=-1), 1.0)


class TwoTowerRecommender(Recommender):
    """Fit on a task's history, score its evaluated customers over the full catalogue.

    ``item_vectors``: a DataFrame of text embeddings indexed by item id (all
    items of the dataset; each task takes its catalogue from it).
    ``valid_task``: when given, the number of epochs is chosen by early
    stopping on its window (training on its own, earlier history) and the
    model is then refitted on the task's full history for that many epochs.
    """

    scores_cold_items = True
    family = "text-frozen"

    def __init__(self, item_vectors: pd.DataFrame, config: TwoTowerConfig | None = None, seed: int = 0,
                 strategy: str = "default", valid_task=None, name: str = "two-tower (frozen encoder)",
                 verbose: int = 0, augmented_vectors: pd.DataFrame | None = None, log_dir=None,
                 family: str | None = None):
        from recft_utils.models.distribute import check_strategy

        check_strategy(strategy)
        self.item_vectors, self.augmented_vectors = item_vectors, augmented_vectors
        self.config = (config or TwoTowerConfig()).checked()
        if not self.config.text:  # an ID-only model: no text, so no new items and no language model
            self.scores_cold_items, self.family = False, "classical"
        if family is not None:  # e.g. "text-fine-tuned" for vectors of an adapted encoder
            self.family = family
        self.seed, self.strategy, self.valid_task, self.name, self.verbose = seed, strategy, valid_task, name, verbose
        self.log_dir = log_dir  # when set, training curves go to TensorBoard there
        self.stats: dict = {}

    # -- training -----------------------------------------------------------
    def _train(self, task, epochs: int, monitor=None, source=None):
        from recft_utils.models.distribute import fit_across_workers, get_strategy

        keras.utils.set_random_seed(self.seed)
        config = self.config
        histories, targets, seen = order_examples(task, config.max_history)
        if len(histories) == 0:
            raise ParameterError("No training examples: no customer bought something new after a first order.")
        n_items = len(task.items)
        # no (examples × catalogue) matrix: y is each example's row, and each batch expands its own lists
        x = {**histories.as_inputs(), "example": np.arange(len(histories), dtype=np.int32)}
        y = np.arange(len(histories), dtype=np.int32)
        if config.max_examples and len(y) > config.max_examples:  # a row of y expands its example in the step
            keep = np.sort(np.random.default_rng(self.seed).choice(len(y), config.max_examples, replace=False))
            x, y = {name: values[keep] for name, values in x.items()}, y[keep]
        negatives = config.negatives_for(n_items)
        steps = epochs * int(np.ceil(len(y) / config.batch_size))
        with get_strategy(self.strategy).scope():
            model = self._build(task)
            if source is not None:
                self._load(model, task, source)
            model.compile(optimizer=config.optimizer(steps), loss=softmax_over_catalogue)
            from recft_utils.models.fine_tuning import build_optimizer  # here: fine_tuning imports this module

            build_optimizer(model)  # its state now, not in the step's first trace (which would then run twice)
            if self.strategy != "default":
                # under a strategy Keras builds the compiled loss from the first batch, which holds rows, not
                # targets: build it here on the shapes a step uses
                probe = np.zeros((1, n_items), np.float32)
                model.compute_loss(y=probe, y_pred=probe, training=False)
            model.adversarial_epsilon = config.adversarial_epsilon
            model.examples = (as_constants(targets), as_constants(seen))
            if negatives:
                cdf, log_q = popularity_sampler(targets.counts(n_items))
                model.sampler = (tf.constant(cdf), tf.constant(log_q), negatives)
            if self.augmented_vectors is not None:
                model.title_variants = tf.constant(title_variants(self.item_vectors, self.augmented_vectors, task.items))
        callbacks = [EarlyStoppingOnNDCG(self, monitor, config.patience)] if monitor is not None else []
        if self.log_dir is not None:
            callbacks.append(keras.callbacks.TensorBoard(str(self.log_dir), write_graph=False))
        started = time.perf_counter()
        if self.strategy == "multi_worker":
            losses = fit_across_workers(model, x, y, config.batch_size, epochs, callbacks, seed=self.seed)
        else:
            losses = model.fit(x, y, batch_size=config.batch_size, epochs=epochs, shuffle=True,
                               verbose=self.verbose, callbacks=callbacks).history["loss"]
        seconds = time.perf_counter() - started
        self.stats = {
            "train_examples": len(y), "all_examples": len(histories), "epochs_run": len(losses),
            "train_seconds": seconds, "examples_per_second": len(y) * len(losses) / seconds, "final_loss": float(losses[-1]),
            "softmax": f"sampled ({negatives:,} negatives)" if negatives else "full",
        }
        if monitor is not None:
            self.stats["judged_customers"], self.stats["valid_customers"] = callbacks[0].customers
        return model, callbacks[0] if monitor is not None else None

    def _build(self, task) -> "TextTwoTower":
        vectors = self.item_vectors.reindex(task.items).to_numpy(dtype=np.float32)
        return build_model(vectors, daily_popularity(task, self.config.popularity_days), task.n_warm, self.config,
                           first_sale_days(task))

    def start_from(self, task, source, epochs: int = 0) -> "TwoTowerRecommender":
        """This recommender on ``task``, starting from what ``source`` learned: the one way to restore,
        carry over or warm-start a two-tower model.

        ``source`` is either the weights of a model fitted on ``task`` itself (``model.get_weights()``,
        e.g. of a saved model, loaded in another process: restored exactly), or a fitted
        :class:`TwoTowerRecommender` of this task or an earlier one (carried over to this task's
        catalogue and popularity table: see :func:`transfer_weights`). With ``epochs`` > 0 the model
        then trains that many epochs from there (a warm start); with 0 it scores as it is, what a
        deployed model does when nobody retrains it.
        """
        super().fit(task)
        self.epochs = epochs
        if epochs:
            self.model, _ = self._train(task, epochs, source=source)
        else:
            self.model, self.stats = self._build(task), {"train_seconds": 0.0}
            self._load(self.model, task, source)
        return self

    def like(self) -> "TwoTowerRecommender":
        """An unfitted recommender with this one's vectors, settings, seed and name (for :meth:`start_from`)."""
        return TwoTowerRecommender(self.item_vectors, self.config, seed=self.seed, name=self.name,
                                   strategy=self.strategy, family=self.family)

    @staticmethod
    def _load(model: "TextTwoTower", task, source) -> None:
        if isinstance(source, TwoTowerRecommender):
            transfer_weights(model, source.model, task.items, source.task.items)
        else:
            model.set_weights(source)

    def select_epochs(self) -> int:
        """Early stopping on the validation window: the best epoch count."""
        model, stopper = self._train(self.valid_task, self.config.epochs, monitor=self.valid_task)
        self.validation_curve, self.valid_model = stopper.curve, model
        return stopper.best_epoch

    def fit(self, task, epochs: int | None = None):
        """Train on ``task``'s history from a random initialisation (``epochs``: by early stopping on
        ``valid_task`` when given, else the config's); to start from a trained model, :meth:`start_from`."""
        super().fit(task)
        if epochs is None:
            epochs = self.select_epochs() if self.valid_task is not None else self.config.epochs
        self.epochs = epochs
        self.model, _ = self._train(task, epochs)
        return self

    # -- scoring ------------------------------------------------------------
    def model_scores(self, model, task, rows: np.ndarray) -> np.ndarray:
        """Scores of ``model`` (this recommender's Keras model or one being trained) for ``task``'s ``rows``."""
        histories = window_histories(task, rows, self.config.max_history)
        inputs = {**histories.as_inputs(), "seen": np.zeros((len(rows), len(task.items)), np.float32)}
        if self.strategy == "multi_worker":  # predict_on_batch would gather every worker's copy of the rows
            return np.asarray(model(inputs, training=False))
        return np.asarray(model.predict_on_batch(inputs))

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.model_scores(self.model, self.task, user_rows)


# validation customers × catalogue judged after each epoch: the built-in shop (about 4 M) and the tiny
# profile (200 customers) whole; at 70,000 products about 285 customers, whose ranking costs less than the
# epoch it judges (with 50 M it cost about as much as the training itself)
EARLY_STOPPING_CELLS = 20_000_000


class EarlyStoppingOnNDCG(keras.callbacks.Callback):
    """Discovery NDCG@10 on a validation task after every epoch.

    Keeps the best weights, the epoch they came from and that epoch's
    per-customer scores (``best_scores``, for paired comparisons); stops after
    ``patience`` epochs without improvement. On a catalogue so large that the whole window's customers
    exceed :data:`EARLY_STOPPING_CELLS` (customers × products), each epoch is judged on a seeded sample of
    them (``judged``, ``customers`` says how many of how many); the built-in shop is judged whole.
    """

    def __init__(self, recommender, task, patience: int):
        from recft_utils.evaluation.protocol import customer_sample

        super().__init__()
        self.recommender, self.task, self.patience = recommender, task, patience
        self.judged = customer_sample(task, EARLY_STOPPING_CELLS, seed=getattr(recommender, "seed", 0))
        self.customers = (len(self.judged.eval_rows), len(task.eval_rows))
        self.best, self.best_epoch, self.wait, self.curve = -1.0, 0, 0, []
        self.best_weights = self.best_scores = None

    def on_epoch_end(self, epoch, logs=None):
        scores = self.scores(self.judged)
        ndcg = float(scores.mean())
        self.curve.append({"epoch": epoch + 1, "loss": float(logs["loss"]), "valid_ndcg@10": ndcg})
        logs["valid_ndcg@10"] = ndcg  # later callbacks (TensorBoard) record it too
        if ndcg > self.best:
            self.best, self.best_epoch, self.wait = ndcg, epoch + 1, 0
            # the trainable weights only: the catalogue's text and popularity tables (hundreds of MB on a
            # large catalogue) do not change in training
            self.best_weights, self.best_scores = [w.numpy() for w in self.model.trainable_weights], scores
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            for weight, value in zip(self.model.trainable_weights, self.best_weights):
                weight.assign(value)

    def scores(self, task) -> pd.Series:
        """Per-customer discovery NDCG@10 of the model as it is now on ``task``."""
        from recft_utils.evaluation import evaluate

        scorer = _FixedScorer(lambda rows: self.recommender.model_scores(self.model, task, rows))
        return evaluate(scorer, task, views=("discovery",))["discovery"].set_index("user_id")["ndcg"]

    def whole_window_scores(self) -> pd.Series:
        """The best epoch's per-customer scores on every validation customer (after training, when the
        best weights are back): ``best_scores`` itself unless epochs were judged on a sample."""
        return self.best_scores if self.judged is self.task else self.scores(self.task)


class _FixedScorer:
    scores_cold_items = True

    def __init__(self, function):
        self.score = function


def encode_catalogue(interactions: pd.DataFrame, encoder, batch_size: int = 128,
                     progress: bool = False) -> pd.DataFrame:
    """Sentence embeddings of every item's normalised title (as first listed: see catalogue_titles), by item id."""
    titles = catalogue_titles(interactions)
    vectors = encoder.encode(list(titles), batch_size=batch_size, progress=progress)
    return pd.DataFrame(vectors, index=titles.index)


def encode_augmented_titles(augmented: pd.DataFrame, encoder, batch_size: int = 128) -> pd.DataFrame:
    """Sentence embeddings of step 2's augmented titles (column ``augmented``), indexed by item id."""
    vectors = encoder.encode(list(augmented["augmented"]), batch_size=batch_size)
    return pd.DataFrame(vectors, index=pd.Index(augmented["item_id"].to_numpy(), name="item_id"))


def title_variants(item_vectors: pd.DataFrame, augmented: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    """(variants, items, dim): variant 0 is each item's title, the others its augmented titles.

    ``augmented`` holds one row per augmented title, indexed by item id; items
    with fewer augmentations than others repeat their own title in the free slots.
    """
    original = item_vectors.reindex(items).to_numpy(dtype=np.float32)
    augmented = augmented[augmented.index.isin(items)]
    rank = augmented.groupby(level=0).cumcount().to_numpy() + 1
    table = np.repeat(original[None], int(rank.max(initial=0)) + 1, axis=0)
    columns = pd.Series(np.arange(len(items)), index=items).reindex(augmented.index).to_numpy()
    table[rank, columns] = augmented.to_numpy(dtype=np.float32)
    return table


def config_with(config, **changes):
    """A copy of a settings dataclass (:class:`TwoTowerConfig`, ``FineTuneConfig``) with some values changed,
    validated by its ``checked()``."""
    unknown = set(changes) - set(asdict(config))
    if unknown:
        raise ParameterError(f"Unknown {getattr(config, 'label', 'setting')}(s) {sorted(unknown)}; "
                             f"known: {sorted(asdict(config))}.")
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
        raise MissingArtefactError(f"{path} does not exist: run notebooks 03a and 03b (`recft checkpoint --step 3`).")
    try:
        return keras.saving.load_model(path, compile=False)  # scoring needs no optimizer
    except Exception as exc:  # zip, h5 and config errors all mean the same to a user
        raise RecftError(f"{path} is not a loadable two-tower model ({type(exc).__name__}: {exc}). "
                         f"Re-run notebook 03b to write it again.") from exc


def recommender_from_run(run_dir, task) -> TwoTowerRecommender:
    """Step 3's saved model of ``run_dir`` as a recommender fitted on ``task`` (the test task), ready to score."""
    run = Run(run_dir)
    saved = run.model_config()
    return TwoTowerRecommender(run.item_vectors(), TwoTowerConfig.from_saved(saved), seed=saved.get("seed", 0)
                               ).start_from(task, load_model(run.model_weights()).get_weights())
