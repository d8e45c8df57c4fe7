"""Fine-tuning the text encoder inside the two-tower recommender, in four regimes.

- ``frozen``: the encoder runs once over the catalogue; only the adapter and
  the user tower learn (:mod:`recft_utils.models.two_tower`).
- ``top_k``: the top ``top_layers`` transformer layers learn. The lower
  layers' outputs for every title are computed once and cached, so the frozen
  layers never run during a training step.
- ``lora``: KerasHub's ``backbone.enable_lora(rank)``: low-rank updates of
  the query and value projections of every attention layer, the pretrained
  weights frozen. Every layer still runs, forward and backward, every step.
- ``full``: every weight of the encoder learns: the naive cost reference.

Every regime but ``frozen`` starts from a trained frozen-regime model and
then trains the encoder too ("linear probe, then fine-tune", Kumar et al.,
2022: a random head would first distort the pretrained features). A full
softmax would re-encode the whole catalogue at every step, so the encoder is
trained with a **sampled softmax**: each step scores the batch's positives
(one of each order's new items, drawn at random) plus ``negatives`` items
drawn from the target distribution q, and subtracts ``log q`` from every
candidate's logit: the logQ correction (Yi et al., 2019) that removes the
bias towards popular items a sampled softmax otherwise has. The customers'
histories read the catalogue vectors of the previous epoch (re-encoded after
every epoch), so only the candidates pass through the encoder in a step.

This module holds the regimes' settings, the Keras layer and model, and the loss;
:mod:`~recft_utils.models.fine_tuned_recommender` trains them on a task and scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recft_utils.errors import ParameterError
from recft_utils.keras_backend import keras, tf
from recft_utils.models.optimization import OptimizerSettings, scale_for_replicas
from recft_utils.models.streaming import dense_rows
from recft_utils.text.encoder import mean_pool

REGIMES = ("frozen", "top_k", "lora", "full")
REGIME_LABELS = {
    "frozen": "frozen encoder + adapter",
    "top_k": "top-k layers (lower layers cached)",
    "lora": "LoRA (KerasHub)",
    "full": "full fine-tuning",
}


def check_regime(name: str) -> str:
    """Refuse an unknown regime name before anything is built."""
    if name not in REGIMES:
        raise ParameterError(f"Unknown fine-tuning regime {name!r}; use one of {', '.join(REGIMES)}.")
    return name


@dataclass(frozen=True)
class FineTuneConfig(OptimizerSettings):
    """Settings of the encoder-training stage (the frozen stage uses :class:`TwoTowerConfig`)."""

    label = "fine-tuning setting"  # for error messages (a class attribute, not a field)

    regime: str = "top_k"
    top_layers: int = 1  # top_k: transformer layers that learn
    lora_rank: int = 8  # lora: rank of the low-rank updates
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    epochs: int = 2
    patience: int = 1
    batch_size: int = 128
    negatives: int = 256  # items sampled from q per step, shared by the batch
    steps_per_epoch: int | None = None  # a step budget per epoch (None: every example once)
    sequence_length: int = 32  # tokens per title, [CLS] and [SEP] included
    jit_compile: bool = False  # XLA for the training step
    mixed_precision: bool = False  # bf16 compute, float32 weights
    # Encode the catalogue in batches of titles of similar length, each padded only to its longest, and
    # (top_k) compute the lower layers once per process for every title, shared by every fit: several
    # times faster, equal to the default up to float rounding (~1e-5, batch shapes change the sums), so
    # the profiles whose results are committed keep the default (see CatalogueTextEncoder).
    fast_catalogue: bool = False

    def checked(self, num_layers: int | None = None) -> "FineTuneConfig":
        """Refuse values that cannot train, before any work starts."""
        check_regime(self.regime)
        self.check_optimizer()
        for name in ("top_layers", "lora_rank", "epochs", "batch_size", "negatives"):
            if getattr(self, name) <= 0:
                raise ParameterError(f"Fine-tuning {name} must be positive, got {getattr(self, name)}.")
        if num_layers is not None and self.regime == "top_k" and self.top_layers > num_layers:
            raise ParameterError(f"top_layers={self.top_layers}, but the encoder has only {num_layers} layers.")
        if not 8 <= self.sequence_length <= 512:
            raise ParameterError(f"sequence_length must be from 8 to 512 tokens, got {self.sequence_length}.")
        if self.steps_per_epoch is not None and self.steps_per_epoch <= 0:
            raise ParameterError(f"steps_per_epoch must be positive or None, got {self.steps_per_epoch}.")
        if self.patience < 0:
            raise ParameterError(f"Fine-tuning patience must be >= 0, got {self.patience}.")
        return self


def tokenize_titles(encoder, titles, sequence_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and padding mask (items, length) of every title, padded to the longest one."""
    rows = encoder.tokenize(list(titles))
    length = min(max(len(r) for r in rows), sequence_length)
    ids = np.full((len(rows), length), encoder.pad_id, dtype=np.int32)
    mask = np.zeros((len(rows), length), dtype=np.int32)
    for i, row in enumerate(rows):
        row = row[: length - 1] + [encoder.sep_id] if len(row) > length else row
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
    return ids, mask


def _embed(backbone, token_ids, training):
    """The backbone's input embeddings (token + position + segment, normalised)."""
    tokens = backbone.token_embedding(token_ids)
    x = backbone.embeddings_add(
        (tokens, backbone.position_embedding(tokens), backbone.segment_embedding(tf.zeros_like(token_ids)))
    )
    return backbone.embeddings_dropout(backbone.embeddings_layer_norm(x), training=training)


class CatalogueTextEncoder(keras.layers.Layer):
    """Catalogue column -> sentence embedding, with the regime's trainable part.

    For ``top_k`` the first ``num_layers - top_layers`` layers run once here,
    at construction, over every title; a step gathers their cached outputs and
    runs only the top layers. ``cached`` gives those outputs instead (see
    :func:`shared_lower_outputs`). With ``config.fast_catalogue`` the lower
    layers and :meth:`encode_all` run over titles sorted by length, each batch
    padded to its longest title only.
    """

    def __init__(
        self,
        backbone,
        token_ids: np.ndarray,
        padding_mask: np.ndarray,
        config: FineTuneConfig,
        cache_batch: int = 256,
        cached: np.ndarray | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.regime, self.by_length = config.regime, config.fast_catalogue
        self.mask = tf.constant(padding_mask)
        self.lengths, self.dim = padding_mask.sum(axis=1), int(backbone.hidden_dim)
        n_lower = backbone.num_layers - config.top_layers
        if self.regime == "top_k":
            for layer in backbone.transformer_layers[:n_lower]:
                layer.trainable = False
            self.top = backbone.transformer_layers[n_lower:]
            if cached is None:
                lower = self._lower_outputs_by_length if self.by_length else self._lower_outputs
                cached = lower(backbone, token_ids, padding_mask, n_lower, cache_batch)
            self.cached = tf.constant(cached)
        else:
            self.backbone, self.token_ids = backbone, tf.constant(token_ids)
            if self.regime == "lora":
                backbone.enable_lora(config.lora_rank)
            else:
                backbone.trainable = True

    @staticmethod
    def _lower_outputs(backbone, token_ids, padding_mask, n_lower, batch):
        @tf.function
        def lower(ids, mask):
            x = _embed(backbone, ids, training=False)
            for layer in backbone.transformer_layers[:n_lower]:
                x = layer(x, padding_mask=mask, training=False)
            return x

        parts = [
            lower(token_ids[i : i + batch], padding_mask[i : i + batch]).numpy()
            for i in range(0, len(token_ids), batch)
        ]
        return np.concatenate(parts).astype(np.float32)

    @staticmethod
    def _lower_outputs_by_length(backbone, token_ids, padding_mask, n_lower, batch):
        """:meth:`_lower_outputs` over titles sorted by length, each batch as wide as its longest title
        (zeros after that width: padding, which attention and the mean pooling ignore)."""

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
        def lower(ids, mask):
            x = _embed(backbone, ids, training=False)
            for layer in backbone.transformer_layers[:n_lower]:
                x = layer(x, padding_mask=mask, training=False)
            return x

        out = np.zeros((*token_ids.shape, backbone.hidden_dim), np.float32)
        for index, width in _length_batches(padding_mask.sum(axis=1), batch):
            out[index, :width] = lower(token_ids[index, :width], padding_mask[index, :width]).numpy()
        return out

    def call(self, columns, training=False):
        mask = tf.gather(self.mask, columns)
        if self.regime == "top_k":
            x = tf.gather(self.cached, columns)
            for layer in self.top:
                x = layer(x, padding_mask=mask, training=training)
        else:
            x = _embed(self.backbone, tf.gather(self.token_ids, columns), training)
            for layer in self.backbone.transformer_layers:
                x = layer(x, padding_mask=mask, training=training)
        return mean_pool(x, mask)

    def encode_all(self, batch: int = 512) -> np.ndarray:
        """Embeddings of the whole catalogue, inference mode."""
        if self.by_length:
            return self._encode_all_by_length(batch)
        if not hasattr(self, "_infer"):
            self._infer = tf.function(lambda c: self(c, training=False))
        n = int(self.mask.shape[0])
        return np.concatenate([self._infer(tf.range(i, min(i + batch, n))).numpy() for i in range(0, n, batch)])

    def _encode_all_by_length(self, batch: int) -> np.ndarray:
        if not hasattr(self, "_infer_width"):
            spec = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)]
            self._infer_width = tf.function(self._encode_width, input_signature=spec)
        out = np.zeros((len(self.lengths), self.dim), np.float32)
        for index, width in _length_batches(self.lengths, batch):
            out[index] = self._infer_width(tf.constant(index, tf.int32), tf.constant(width, tf.int32)).numpy()
        return out

    def _encode_width(self, columns, width):
        """Inference embeddings of ``columns``, their tokens cut to the first ``width`` (the longest's)."""
        mask = tf.gather(self.mask, columns)[:, :width]
        if self.regime == "top_k":
            x = tf.gather(self.cached, columns)[:, :width]
            for layer in self.top:
                x = layer(x, padding_mask=mask, training=False)
        else:
            x = _embed(self.backbone, tf.gather(self.token_ids, columns)[:, :width], False)
            for layer in self.backbone.transformer_layers:
                x = layer(x, padding_mask=mask, training=False)
        return mean_pool(x, mask)


# the last lower-layer outputs computed by shared_lower_outputs: {key: (row of each title, outputs)}
_SHARED_LOWER: dict = {}


def shared_lower_outputs(encoder, titles, config: FineTuneConfig) -> tuple[dict, np.ndarray]:
    """The ``top_k`` cache of every title in ``titles``: {title: row}, and the lower layers' outputs
    (rows, tokens, dim), computed by length (``fast_catalogue``).

    Kept for the next call (one entry): every fit of a chapter loads the same pretrained encoder, so
    the fits on the validation and the test windows share one pass over the catalogue. The key holds
    a digest of the embeddings' and lower layers' weights, so a different encoder is never served
    another's outputs.
    """
    import hashlib

    backbone = encoder.backbone
    n_lower = backbone.num_layers - config.top_layers
    unique = list(dict.fromkeys(titles))
    digest = hashlib.sha1()
    for layer in (
        backbone.token_embedding,
        backbone.position_embedding,
        backbone.segment_embedding,
        backbone.embeddings_layer_norm,
        *backbone.transformer_layers[:n_lower],
    ):
        for weight in layer.weights:
            digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    key = (digest.hexdigest(), backbone.dtype_policy.name, n_lower, config.sequence_length, tuple(unique))
    if key not in _SHARED_LOWER:
        _SHARED_LOWER.clear()
        ids, mask = tokenize_titles(encoder, unique, config.sequence_length)
        outputs = CatalogueTextEncoder._lower_outputs_by_length(backbone, ids, mask, n_lower, 256)
        _SHARED_LOWER[key] = ({title: row for row, title in enumerate(unique)}, outputs)
    return _SHARED_LOWER[key]


def _length_batches(lengths: np.ndarray, batch: int):
    """(rows, width) batches of at most ``batch`` rows of similar length; width: the batch's longest."""
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch):
        index = order[start : start + batch]
        yield index, int(lengths[index].max())


class EncoderFineTuner(keras.Model):
    """Trains a two-tower model's encoder and head with a sampled, logQ-corrected softmax.

    Inputs and targets are the frozen model's (histories, ``seen``; multi-hot
    new items); scoring is the wrapped two-tower model's, so early stopping
    and evaluation see exactly what will be saved.
    """

    def __init__(
        self,
        ranker,
        item_encoder: CatalogueTextEncoder,
        log_q: np.ndarray,
        negatives: int,
        deduplicate: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.ranker, self.item_encoder, self.negatives = ranker, item_encoder, negatives
        self.deduplicate = deduplicate
        self.log_q = tf.constant(log_q.astype(np.float32))
        self.examples = None  # (targets, earlier items) as models.streaming.as_constants, set before training
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, inputs, training=False):
        return self.ranker(inputs, training=training)

    def refresh_catalogue(self) -> None:
        """Re-encode every title with the current encoder into the ranker's text table."""
        self.ranker.text.assign(self.item_encoder.encode_all())

    def train_step(self, data):
        x, y = data[0], data[1]
        if len(y.shape) == 1:  # each example's row: its targets and earlier items expanded for this batch only
            targets, seen = self.examples
            rows, n_items = tf.cast(y, "int32"), self.ranker.settings["n_items"]
            y, earlier = dense_rows(targets, rows, n_items), dense_rows(seen, rows, n_items)
        else:  # dense batches (jit_compile: XLA compiles static shapes only, and no ragged ops)
            y, earlier = tf.cast(y, "float32"), tf.cast(x["seen"], "float32")
        positive = tf.random.categorical(tf.math.log(y), 1, dtype="int32")[:, 0]
        negative = tf.random.categorical(self.log_q[None], self.negatives, dtype="int32")[0]
        candidates = tf.concat([positive, negative], axis=0)
        # the order's other new items and the customer's earlier items are not negatives
        excluded = tf.gather(y + earlier, candidates, axis=1) > 0
        # nor are products not yet on sale on the example's day
        excluded |= ~tf.gather(self.ranker.on_sale(x["day"]), candidates, axis=1)
        if self.deduplicate:
            unique, where = _distinct_padded(candidates)
        else:  # XLA needs static shapes: encode every candidate, duplicates included
            unique, where = candidates, tf.range(tf.shape(candidates)[0])
        with tf.GradientTape() as tape:
            user = self.ranker.user_vectors(x, self.ranker.item_matrix(), training=True)
            items = tf.gather(self.ranker.adapter(self.item_encoder(unique, training=True)), where)
            logits = tf.matmul(user, items, transpose_b=True) + self.ranker.item_prior(x["day"], candidates)
            loss = sampled_softmax_loss(logits, tf.gather(self.log_q, candidates), excluded)
            loss += tf.add_n(self.losses) if self.losses else 0.0
            scaled = self.optimizer.scale_loss(scale_for_replicas(loss))
        pairs = [
            (g, w)
            for g, w in zip(tape.gradient(scaled, self.trainable_weights), self.trainable_weights)
            if g is not None
        ]
        self.optimizer.apply_gradients(pairs)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def _distinct_padded(candidates, multiple: int = 64):
    """Each candidate once (popular items are drawn several times), padded to a multiple of ``multiple``.

    Returns the columns to encode and, per candidate, its row among them. The
    padding keeps the number of distinct batch shapes small: every new shape
    costs a oneDNN kernel (memory that is never returned) or an XLA compilation.
    """
    unique, where = tf.unique(candidates)
    size = tf.shape(unique)[0]
    padded = (size + multiple - 1) // multiple * multiple
    return tf.concat([unique, tf.fill([padded - size], unique[0])], axis=0), where


def sampled_softmax_loss(logits, log_q, excluded):
    """Mean cross-entropy of row i's positive, candidate column i, against the other candidates.

    ``logits`` (batch, candidates): the first ``batch`` candidates are the rows'
    positives; ``log_q`` (candidates,): log sampling probability of each,
    subtracted (logQ correction); ``excluded`` (batch, candidates): candidates
    that must not count as negatives for a row (its own purchases).
    """
    batch = tf.shape(logits)[0]
    label = tf.range(batch)
    is_label = tf.one_hot(label, tf.shape(logits)[1], on_value=True, off_value=False)
    logits = tf.where(excluded & ~is_label, -1e9, logits - log_q[None, :])
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(label, logits))
