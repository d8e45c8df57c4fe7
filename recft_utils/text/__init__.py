"""Text: the pretrained language model and augmentation of product titles.

- :mod:`~recft_utils.text.encoder` finds, verifies and loads all-MiniLM-L6-v2
  with KerasHub and turns texts into sentence embeddings
  (:class:`SentenceEncoder`).
- :mod:`~recft_utils.text.augmentation` makes augmented product titles:
  embedding-neighbour synonyms, deletion, swaps, typos, and a hook for
  back-translation.

Importing this package does not import TensorFlow or KerasHub; loading a
model does.
"""

from recft_utils.text.augmentation import (
    AUGMENT_COLUMNS,
    METHODS,
    STOP_WORDS,
    SynonymTable,
    augment_titles,
    back_translate,
    changed_attributes,
    defining_attributes,
    normalise_title,
    random_delete,
    random_swap,
    synonym_replace,
    typo_perturb,
)
from recft_utils.text.encoder import (
    DEFAULT_MODEL,
    EMBEDDING_DIM,
    MODEL_SHA256,
    ChecksumError,
    ModelError,
    SentenceEncoder,
    find_model_dir,
    load_backbone,
    load_tokenizer,
    token_embedding_matrix,
    token_lengths,
    verify_weights,
)

__all__ = [
    "AUGMENT_COLUMNS",
    "DEFAULT_MODEL",
    "EMBEDDING_DIM",
    "METHODS",
    "MODEL_SHA256",
    "STOP_WORDS",
    "ChecksumError",
    "ModelError",
    "SentenceEncoder",
    "SynonymTable",
    "augment_titles",
    "back_translate",
    "changed_attributes",
    "defining_attributes",
    "find_model_dir",
    "load_backbone",
    "load_tokenizer",
    "normalise_title",
    "random_delete",
    "random_swap",
    "synonym_replace",
    "token_embedding_matrix",
    "token_lengths",
    "typo_perturb",
    "verify_weights",
]
