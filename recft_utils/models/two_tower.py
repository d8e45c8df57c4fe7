"""The two-tower model whose item tower reads product text: its settings, its Keras model and its loss.

Training it on a task, early stopping and scoring are :mod:`~recft_utils.models.two_tower_recommender`'s
job; saving and loading, :mod:`~recft_utils.models.two_tower_files`'.

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

Loss: a softmax over the products on sale that day (those first sold later, new products above
all, are no negatives: they did not exist yet) with the customer's earlier items masked out, i.e.
the *discovery* task; above 20,000 products a sampled softmax, logQ-corrected
(:mod:`recft_utils.models.streaming`). AdamW with linear warm-up and cosine decay, L2 and dropout.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.keras_backend import keras, tf
from recft_utils.models.optimization import OptimizerSettings, scale_for_replicas, unscale_for_replicas
from recft_utils.models.streaming import (
    DEFAULT_NEGATIVES,
    SAMPLED_SOFTMAX_MIN_ITEMS,
    batch_columns,
    dense_rows,
    draw,
    membership,
)


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
            raise ParameterError(
                "A two-tower item tower needs text, item IDs or both (text=False needs item_ids=True)."
            )
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

    def __init__(
        self,
        n_items: int,
        text_dim: int,
        n_days: int,
        n_warm: int,
        dim: int = 128,
        dropout: float = 0.2,
        l2: float = 1e-6,
        item_ids: bool = False,
        text: bool = True,
        popularity_prior: bool = True,
        text_prior: bool = False,
        item_vectors=None,
        popularity=None,
        first_day=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.settings = {
            "n_items": n_items,
            "text_dim": text_dim,
            "n_days": n_days,
            "n_warm": n_warm,
            "dim": dim,
            "dropout": dropout,
            "l2": l2,
            "item_ids": item_ids,
            "text": text,
            "popularity_prior": popularity_prior,
            "text_prior": text_prior,
        }
        regulariser = keras.regularizers.L2(l2) if l2 else None

        def constant(value):
            return keras.initializers.Constant(value) if value is not None else "zeros"

        self.text = self.add_weight(
            shape=(n_items, text_dim), trainable=False, name="item_text", initializer=constant(item_vectors)
        )
        self.popularity = self.add_weight(
            shape=(n_days, n_items), trainable=False, name="popularity", initializer=constant(popularity)
        )
        # day each item went on sale (zeros: all on sale from day 0); training only, see training_logits
        self.first_day = self.add_weight(
            shape=(n_items,), trainable=False, name="first_sale_day", initializer=constant(first_day)
        )
        self.adapter = keras.layers.Dense(dim, kernel_regularizer=regulariser, name="adapter")
        self.ids = keras.layers.Embedding(
            n_items,
            dim,
            name="item_ids",
            embeddings_regularizer=regulariser,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.user = keras.layers.Dense(dim, kernel_regularizer=regulariser, name="user")
        self.dropout = keras.layers.Dropout(dropout)
        self.bias = self.add_weight(shape=(n_items,), initializer="zeros", name="item_bias")
        self.decay = self.add_weight(shape=(), name="recency_decay", initializer=keras.initializers.Constant(0.5))
        # without the prior the weight stays 0: the same graph, with no popularity in the scores
        self.popularity_weight = self.add_weight(
            shape=(),
            name="popularity_weight",
            trainable=popularity_prior,
            initializer=keras.initializers.Constant(float(popularity_prior)),
        )
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
        return self._apply_gradients(tape, loss)

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
        duplicate = tf.concat(
            [tf.zeros_like(positives, tf.bool), tf.reduce_any(tf.equal(drawn[:, None], positives[None, :]), axis=1)],
            axis=0,
        )[None, :]
        history = tf.cast(x["items"], "int32")
        needed, where = tf.unique(tf.concat([tf.reshape(history, [-1]), candidates], axis=0))
        label = tf.cast(membership(targets, rows, candidates, n_items) & ~duplicate, tf.float32)
        excluded = (
            membership(seen, rows, candidates, n_items)
            | duplicate
            | (tf.gather(self.first_day, candidates)[None, :] > tf.cast(x["day"], self.first_day.dtype)[:, None])
        )
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
                pushed = self._sampled_logits(
                    x,
                    history,
                    needed,
                    where,
                    text + self.adversarial_epsilon * push,
                    candidates,
                    log_q,
                    label,
                    excluded,
                )
                loss += scale_for_replicas(tf.reduce_mean(softmax_over_catalogue(label, pushed)))
            self.loss_tracker.update_state(unscale_for_replicas(loss), sample_weight=tf.shape(rows)[0])
            loss = self.optimizer.scale_loss(loss)
        return self._apply_gradients(tape, loss)

    def _apply_gradients(self, tape, loss) -> dict:
        """Both steps' end: the gradients of the (scaled) ``loss`` applied; weights without one (the ID
        embeddings of an ID-free model, say) are skipped."""
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients([(g, w) for g, w in zip(gradients, self.trainable_weights) if g is not None])
        return {"loss": self.loss_tracker.result()}

    def _sampled_logits(self, x, history, needed, where, text, candidates, log_q, label, excluded):
        """The sampled step's scores: the history's and candidates' vectors from ``text`` (rows ``needed``)."""
        vectors = tf.gather(self.item_rows(needed, text), where)
        split = tf.size(history)
        history_v = tf.reshape(vectors[:split], tf.concat([tf.shape(history), [-1]], axis=0))
        user = self.pool(x, history_v, training=True)
        logits = (
            tf.matmul(user, vectors[split:], transpose_b=True)
            + self.prior_of(x["day"], candidates)
            - tf.gather(log_q, candidates)[None, :]
        )
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


def build_model(
    item_vectors: np.ndarray,
    popularity: np.ndarray,
    n_warm: int,
    config: TwoTowerConfig,
    first_day: np.ndarray | None = None,
):
    """A :class:`TextTwoTower` for one catalogue, initialised with its text vectors.

    ``first_day`` (see :func:`~recft_utils.models.training_data.first_sale_days`)
    is used when ``config.on_sale_negatives`` is set.
    """
    model = TextTwoTower(
        n_items=item_vectors.shape[0],
        text_dim=item_vectors.shape[1],
        n_days=popularity.shape[0],
        n_warm=n_warm,
        dim=config.dim,
        dropout=config.dropout,
        l2=config.l2,
        item_ids=config.item_ids,
        text=config.text,
        popularity_prior=config.popularity_prior,
        text_prior=config.text_prior,
        item_vectors=item_vectors,
        popularity=popularity,
        first_day=first_day if config.on_sale_negatives else None,
    )
    model.build()  # its own training step does not call the model, so nothing else would build it
    return model


@keras.saving.register_keras_serializable(package="recft")
def softmax_over_catalogue(y_true, logits):
    """Multi-label softmax cross-entropy: mean log-probability of the order's new items."""
    log_p = tf.nn.log_softmax(logits, axis=-1)
    y_true = tf.cast(y_true, log_p.dtype)
    return -tf.reduce_sum(y_true * log_p, axis=-1) / tf.maximum(tf.reduce_sum(y_true, axis=-1), 1.0)


def config_with(config, **changes):
    """A copy of a settings dataclass (:class:`TwoTowerConfig`, ``FineTuneConfig``) with some values changed,
    validated by its ``checked()``."""
    unknown = set(changes) - set(asdict(config))
    if unknown:
        raise ParameterError(
            f"Unknown {getattr(config, 'label', 'setting')}(s) {sorted(unknown)}; known: {sorted(asdict(config))}."
        )
    return replace(config, **changes).checked()
