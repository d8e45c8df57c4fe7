"""In-domain adaptation of the text encoder: products bought together should have close title vectors.

The pretrained encoder knows English, not this shop: "jumbo bag red
retrospot" and "lunch bag red retrospot" are close for it because they share
words, not because the same customers buy both. Contrastive training on pairs
of products bought in the same order (in-batch negatives, a symmetric InfoNCE
loss; Radford et al., 2021) moves titles that are bought together closer.

Two guards keep what the encoder already knows, which a new product's title
needs most:

- only the top ``top_layers`` transformer layers learn; the lower layers'
  outputs are computed once and cached (as in the ``top_k`` regime of
  :mod:`recft_utils.models.fine_tuning`), which also makes it fast on a CPU;
- an **anchor** term penalises the squared distance between each adapted
  vector and its pretrained one, so the space bends instead of being rebuilt.

The adapted vectors then replace the frozen ones under exactly the same
two-tower heads (:class:`~recft_utils.models.two_tower.TwoTowerRecommender`),
so any difference is the encoder's. Only the task's history gives pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError


@dataclass(frozen=True)
class AdaptationConfig:
    """Settings of the contrastive adaptation (chosen on the validation window)."""

    top_layers: int = 1  # transformer layers that learn; the others are cached
    learning_rate: float = 2e-5
    epochs: int = 1
    batch_size: int = 256  # pairs per step: in-batch negatives
    temperature: float = 0.05
    anchor: float = 1.0  # weight of the squared distance to the pretrained vectors
    max_pairs: int = 30_000  # co-purchase pairs drawn from the history
    sequence_length: int = 32

    def checked(self) -> "AdaptationConfig":
        for name in ("top_layers", "learning_rate", "epochs", "batch_size", "temperature", "max_pairs"):
            if getattr(self, name) <= 0:
                raise ParameterError(f"Encoder adaptation {name} must be positive, got {getattr(self, name)}.")
        if self.anchor < 0:
            raise ParameterError(f"Encoder adaptation anchor must be >= 0, got {self.anchor}.")
        return self


def co_purchase_pairs(task, max_pairs: int, seed: int = 0) -> np.ndarray:
    """(pairs, 2) catalogue columns of two different products bought in one order of the history.

    Each order contributes every pair of its distinct products, at most 10
    per order so that large wholesale baskets do not dominate; then at most
    ``max_pairs`` are drawn at random.
    """
    rng = np.random.default_rng(seed)
    position = pd.Series(np.arange(len(task.items)), index=task.items)
    columns = position.reindex(task.history["item_id"]).to_numpy()
    orders = pd.DataFrame({"order": task.history["order_id"].to_numpy(), "column": columns}).drop_duplicates()
    pairs = []
    for group in orders.groupby("order", sort=False)["column"]:
        basket = group[1].to_numpy()
        if len(basket) < 2:
            continue
        first, second = np.triu_indices(len(basket), k=1)
        pick = rng.permutation(len(first))[:10]
        pairs.append(np.stack([basket[first[pick]], basket[second[pick]]], axis=1))
    if not pairs:
        raise ParameterError("No order of the history holds two products: nothing to adapt the encoder on.")
    pairs = np.concatenate(pairs)
    return pairs[rng.permutation(len(pairs))[:max_pairs]].astype(np.int32)


def _contrastive_model(item_encoder, pretrained: np.ndarray, config: AdaptationConfig):
    from recft_utils.keras_backend import keras, tf

    class PairContrast(keras.Model):
        """Symmetric InfoNCE over a batch of co-purchase pairs, plus the anchor to the pretrained vectors."""

        def __init__(self):
            super().__init__()
            self.item_encoder = item_encoder
            self.pretrained = tf.constant(pretrained)
            self.tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.tracker]

        def train_step(self, data):
            pairs = data[0] if isinstance(data, tuple) else data
            first, second = pairs[:, 0], pairs[:, 1]
            with tf.GradientTape() as tape:
                a = self.item_encoder(first, training=True)
                b = self.item_encoder(second, training=True)
                logits = tf.matmul(a, b, transpose_b=True) / config.temperature
                # a product drawn twice in a batch is not its own negative
                clash = tf.logical_and(
                    tf.equal(second[None, :], second[:, None]),
                    tf.logical_not(tf.eye(tf.shape(second)[0], dtype="bool")),
                )
                logits = tf.where(clash, -1e9, logits)
                labels = tf.range(tf.shape(first)[0])
                loss = 0.5 * (
                    tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
                    + tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.transpose(logits)))
                )
                drift = tf.reduce_sum(tf.square(a - tf.gather(self.pretrained, first)), axis=1) + tf.reduce_sum(
                    tf.square(b - tf.gather(self.pretrained, second)), axis=1
                )
                loss += config.anchor * tf.reduce_mean(drift)
            weights = self.trainable_weights
            gradients = tape.gradient(loss, weights)
            self.optimizer.apply_gradients([(g, w) for g, w in zip(gradients, weights) if g is not None])
            self.tracker.update_state(loss)
            return {"loss": self.tracker.result()}

    return PairContrast()


def adapt_item_vectors(
    task, titles: pd.Series, config: AdaptationConfig | None = None, seed: int = 0, load_encoder=None, verbose: int = 0
) -> tuple[pd.DataFrame, dict]:
    """Adapt the encoder on ``task``'s history and return the catalogue's new vectors and the run's stats.

    ``titles``: normalised titles indexed by item id; ``load_encoder``: a
    function returning a fresh :class:`~recft_utils.text.SentenceEncoder`
    (default: the pretrained model). The vectors are indexed by item id, in
    the task's catalogue order, like :func:`~recft_utils.models.two_tower.encode_catalogue`'s.
    """
    from recft_utils.keras_backend import keras
    from recft_utils.models.fine_tuning import CatalogueTextEncoder, FineTuneConfig, tokenize_titles
    from recft_utils.text import SentenceEncoder

    config = (config or AdaptationConfig()).checked()
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    encoder = (load_encoder or SentenceEncoder.load)()
    ids, mask = tokenize_titles(encoder, titles.reindex(task.items).fillna(""), config.sequence_length)
    item_encoder = CatalogueTextEncoder(
        encoder.backbone,
        ids,
        mask,
        FineTuneConfig(regime="top_k", top_layers=config.top_layers, sequence_length=config.sequence_length),
    )
    pretrained = item_encoder.encode_all()
    pairs = co_purchase_pairs(task, config.max_pairs, seed)
    model = _contrastive_model(item_encoder, pretrained, config)
    model.compile(optimizer=keras.optimizers.AdamW(config.learning_rate, weight_decay=0.0))
    history = model.fit(pairs, batch_size=config.batch_size, epochs=config.epochs, shuffle=True, verbose=verbose)
    adapted = item_encoder.encode_all()
    stats = {
        "pairs": len(pairs),
        "seconds": time.perf_counter() - started,
        "final_loss": float(history.history["loss"][-1]),
        "mean_cosine_to_pretrained": float(np.mean(np.sum(adapted * pretrained, axis=1))),
    }
    return pd.DataFrame(adapted, index=pd.Index(task.items, name="item_id")), stats
