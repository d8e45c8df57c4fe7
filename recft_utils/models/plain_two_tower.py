"""Notebook 03's two-tower recommender in plain Keras, written to be read in one sitting.

It is :class:`~recft_utils.models.two_tower.TextTwoTower` with its default settings, without what
only scale and the chapter's experiments need (batches expanded from row numbers, the sampled
softmax, distribution strategies, ID embeddings, augmented titles, adversarial training).
``tests/test_plain_two_tower.py`` trains both from the same weights on the same batches and checks
that they end with the same weights, so the two cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np

from recft_utils.evaluation.protocol import customer_sample, evaluate
from recft_utils.keras_backend import keras, tf
from recft_utils.models.early_stopping import EARLY_STOPPING_CELLS
from recft_utils.models.training_data import multi_hot, order_examples, window_histories

EXAMPLE_CELLS = 50_000_000  # examples x catalogue at most in the dense training arrays


def softmax_loss(bought, logits):
    """Multi-label softmax cross-entropy: minus the mean log-probability of the products bought new."""
    log_p = tf.nn.log_softmax(logits, axis=-1)
    bought = tf.cast(bought, log_p.dtype)
    return -tf.reduce_sum(bought * log_p, axis=-1) / tf.maximum(tf.reduce_sum(bought, axis=-1), 1.0)


class PlainTwoTower(keras.Model):
    """Scores every product for a customer: user vector · product vector + the product's prior."""

    def __init__(self, text_vectors, popularity, first_sale_day, dim=128, dropout=0.2, l2=1e-6):
        super().__init__()
        # The catalogue, fixed: each product text's vector from the frozen encoder (items, 384), its
        # log(1 + recent sales) on every day (days, items), and the day it went on sale (items,).
        self.text = tf.constant(text_vectors, tf.float32)
        self.popularity = tf.constant(popularity, tf.float32)
        self.first_sale_day = tf.constant(first_sale_day, tf.float32)
        l2 = keras.regularizers.L2(l2)
        # Item tower: a trained adapter from the encoder's space to the model's.
        self.adapter = keras.layers.Dense(dim, kernel_regularizer=l2)
        # User tower: a recency-weighted mean of the bought products' vectors, plus a residual layer.
        self.decay = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.5))
        self.dropout = keras.layers.Dropout(dropout)
        self.user = keras.layers.Dense(dim, kernel_regularizer=l2)
        # Prior: a bias per product and a learned weight on its recent popularity.
        self.bias = self.add_weight(shape=(text_vectors.shape[0],), initializer="zeros")
        self.popularity_weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(1.0))
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def user_vectors(self, inputs, product_vectors, training=False):
        """Pool the history: ``items`` (batch, L) bought products, ``ages`` days since, ``mask`` 1 if real."""
        history = tf.gather(product_vectors, tf.cast(inputs["items"], "int32"))  # (batch, L, dim)
        recency = -tf.nn.softplus(self.decay) * tf.math.log1p(inputs["ages"])
        weights = tf.nn.softmax(recency + (inputs["mask"] - 1.0) * 1e9, axis=1)  # padding: weight 0
        user = tf.reduce_sum(weights[..., None] * history, axis=1)
        return user + self.user(self.dropout(user, training=training))

    def call(self, inputs, training=False):
        """Scores (batch, items) on each example's ``day``; products it ``seen`` or not on sale yet: -1e9."""
        product_vectors = self.adapter(self.text)
        user = self.user_vectors(inputs, product_vectors, training)
        day = tf.cast(inputs["day"], "int32")
        prior = self.bias + self.popularity_weight * tf.gather(self.popularity, day)
        scores = tf.matmul(user, product_vectors, transpose_b=True) + prior
        scores -= tf.cast(inputs["seen"], scores.dtype) * 1e9
        on_sale = self.first_sale_day[None, :] <= tf.cast(day, tf.float32)[:, None]
        return tf.where(on_sale, scores, -1e9)

    @property
    def metrics(self):
        return [self.loss_tracker]  # fit resets it every epoch

    def train_step(self, data):
        inputs, bought = data  # bought: (batch, items), 1 for each product the order bought new
        with tf.GradientTape() as tape:
            logits = self(inputs, training=True)
            loss = tf.reduce_mean(softmax_loss(bought, logits)) + tf.add_n(self.losses)  # + L2
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def training_data(task, max_history=50, most_cells=EXAMPLE_CELLS, seed=0):
    """``(inputs, bought)`` for ``fit``: one example per order that bought something new, as dense arrays
    (examples x catalogue; a seeded sample of examples beyond ``most_cells``: the package's model expands
    each batch from row numbers instead, see :mod:`recft_utils.models.streaming`)."""
    histories, targets, seen = order_examples(task, max_history)
    keep = np.arange(len(histories))
    most = max(most_cells // len(task.items), 1)
    if len(keep) > most:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), most, replace=False))
    inputs = {**histories.subset(keep).as_inputs(), "seen": multi_hot([seen[i] for i in keep], len(task.items))}
    return inputs, multi_hot([targets[i] for i in keep], len(task.items))


class ValidationNDCG(keras.callbacks.Callback):
    """After each epoch, discovery NDCG@10 on the validation window, logged as ``val_ndcg@10``
    (on a seeded sample of customers when the catalogue is very large, like the package's)."""

    scores_cold_items = True  # what evaluate() asks of a model

    def __init__(self, task, max_history=50, seed=0):
        super().__init__()
        self.task, self.max_history = customer_sample(task, EARLY_STOPPING_CELLS, seed=seed), max_history

    def score(self, user_rows):
        histories = window_histories(self.task, user_rows, self.max_history)
        inputs = {**histories.as_inputs(), "seen": np.zeros((len(user_rows), len(self.task.items)), np.float32)}
        return np.asarray(self.model.predict_on_batch(inputs))

    def on_epoch_end(self, epoch, logs=None):
        logs["val_ndcg@10"] = float(evaluate(self, self.task, views=("discovery",))["discovery"]["ndcg"].mean())


def compile_and_fit(
    model,
    valid_task,
    epochs=20,
    batch_size=256,
    learning_rate=3e-3,
    weight_decay=1e-4,
    warmup_fraction=0.1,
    patience=3,
    max_history=50,
    seed=0,
    verbose=0,
):
    """Train on the history before the validation window; stop when NDCG@10 on the window stops improving
    and keep the best epoch's weights. AdamW on a linear warm-up, then cosine decay."""
    inputs, bought = training_data(valid_task, max_history, seed=seed)
    steps = epochs * math.ceil(len(bought) / batch_size)
    warmup = int(steps * warmup_fraction)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(steps - warmup, 1), warmup_target=learning_rate, warmup_steps=warmup
    )
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay))
    callbacks = [
        ValidationNDCG(valid_task, max_history, seed),  # first: it writes what early stopping reads
        keras.callbacks.EarlyStopping("val_ndcg@10", mode="max", patience=patience, restore_best_weights=True),
    ]
    return model.fit(
        inputs, bought, batch_size=batch_size, epochs=epochs, shuffle=True, callbacks=callbacks, verbose=verbose
    )
