"""The ID-embedding model of the methodology recft follows, rebuilt correctly in Keras 3.

The methodology's listing (quoted, with its bugs marked, in notebook 03a) mixes PyTorch calls into
Keras (``AdamW(model.parameters(), lr=...)``, ``fit_generator``, an undefined ``device``), pads (user, item)
pairs as if they were sequences and one-hot encodes a binary label. What it
describes is sound and is what this module builds:

    user ID embedding ⊕ item ID embedding → dropout → dense (ReLU) → sigmoid

trained with binary cross-entropy on purchases (label 1) and sampled
non-purchases (label 0), AdamW and early stopping. It knows items only by ID,
so it cannot score products first sold after training. Scoring ranks the
full catalogue for each customer (the protocol's rule), computed in closed
form from the layers' weights so that 1,400 customers × 3,600 items take a
second rather than 5 million forward passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recft_utils.errors import ParameterError
from recft_utils.models.recommender import Recommender


@dataclass(frozen=True)
class ArticleModelConfig:
    embedding_dim: int = 64  # the listing's Embedding(..., 64)
    hidden: int = 32  # the listing's Dense(32, activation="relu")
    dropout: float = 0.2  # the listing's Dropout(0.2)
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    negatives: int = 4  # sampled non-purchases per purchase
    epochs: int = 10  # the listing's epochs = 10
    patience: int = 2
    batch_size: int = 4096  # large batches: the pairs are many and the network tiny

    def checked(self) -> "ArticleModelConfig":
        for name in ("embedding_dim", "hidden", "negatives", "epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ParameterError(f"Article model {name} must be positive, got {getattr(self, name)}.")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"Article model dropout must be in [0, 1), got {self.dropout}.")
        return self


def training_pairs(matrix, negatives: int, n_items: int, rng: np.random.Generator):
    """(users, items, labels): every purchased pair, plus ``negatives`` random unpurchased items each."""
    coo = matrix.tocoo()
    users = np.repeat(coo.row, 1 + negatives)
    items = np.empty_like(users)
    items[:: 1 + negatives] = coo.col
    bought = set(zip(coo.row.tolist(), coo.col.tolist()))
    for j in range(1, 1 + negatives):
        sampled = rng.integers(0, n_items, size=len(coo.row))
        clash = np.fromiter(((u, i) in bought for u, i in zip(coo.row, sampled)), bool, len(sampled))
        sampled[clash] = rng.integers(0, n_items, size=int(clash.sum()))  # one resample is enough here
        items[j :: 1 + negatives] = sampled
    labels = np.zeros(len(users), dtype=np.float32)
    labels[:: 1 + negatives] = 1.0
    return users.astype(np.int32), items.astype(np.int32), labels


class ArticleIDModel(Recommender):
    """ID embeddings → dropout → dense (ReLU) → sigmoid, with sampled negatives."""

    name = "article ID model (ID embeddings, BCE)"

    def __init__(self, config: ArticleModelConfig | None = None, seed: int = 0, verbose: int = 0):
        self.config = (config or ArticleModelConfig()).checked()
        self.seed, self.verbose = seed, verbose

    def build(self, n_users: int, n_items: int):
        from recft_utils.keras_backend import keras

        c = self.config
        user = keras.Input((), dtype="int32", name="user")
        item = keras.Input((), dtype="int32", name="item")
        u = keras.layers.Embedding(n_users, c.embedding_dim, name="user_embedding")(user)
        i = keras.layers.Embedding(n_items, c.embedding_dim, name="item_embedding")(item)
        x = keras.layers.Dropout(c.dropout)(keras.layers.Concatenate()([u, i]))
        x = keras.layers.Dense(c.hidden, activation="relu", name="hidden")(x)
        out = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
        model = keras.Model({"user": user, "item": item}, out)
        model.compile(
            optimizer=keras.optimizers.AdamW(c.learning_rate, weight_decay=c.weight_decay), loss="binary_crossentropy"
        )
        return model

    def fit(self, task):
        from recft_utils.keras_backend import keras

        super().fit(task)
        keras.utils.set_random_seed(self.seed)
        c = self.config
        warm = task.matrix[:, : task.n_warm]
        rng = np.random.default_rng(self.seed)
        users, items, labels = training_pairs(warm, c.negatives, task.n_warm, rng)
        order = rng.permutation(len(labels))  # so validation_split holds out a random 10 %
        users, items, labels = users[order], items[order], labels[order]
        self.model = self.build(len(task.users), task.n_warm)
        stop = keras.callbacks.EarlyStopping(patience=c.patience, restore_best_weights=True)
        self.history = self.model.fit(
            {"user": users, "item": items},
            labels,
            batch_size=c.batch_size,
            epochs=c.epochs,
            validation_split=0.1,
            shuffle=True,
            callbacks=[stop],
            verbose=self.verbose,
        )
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        """Logits of the sigmoid for every (customer, warm item); ``-inf`` for cold items."""
        d = self.config.embedding_dim
        users = self.model.get_layer("user_embedding").get_weights()[0][user_rows]
        items = self.model.get_layer("item_embedding").get_weights()[0]
        kernel, bias = self.model.get_layer("hidden").get_weights()
        out_kernel, out_bias = self.model.get_layer("output").get_weights()
        # dense(concat(u, i)) = u W_u + i W_i + b, so each half is computed once
        hidden = (users @ kernel[:d])[:, None, :] + (items @ kernel[d:])[None, :, :] + bias
        logits = np.maximum(hidden, 0.0) @ out_kernel[:, 0] + out_bias[0]
        scores = np.full((len(user_rows), len(self.task.items)), -np.inf)
        scores[:, : self.task.n_warm] = logits
        return scores
