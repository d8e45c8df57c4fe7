"""Text: the pretrained language model and augmentation of product titles.

- :mod:`~recft_utils.text.model_files` finds all-MiniLM-L6-v2's installed files and verifies them;
  :mod:`~recft_utils.text.encoder` loads it with KerasHub and turns texts into sentence
  embeddings (:class:`SentenceEncoder`).
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
    random_delete,
    random_swap,
    synonym_replace,
    typo_perturb,
)
from recft_utils.text.encoder import (
    SentenceEncoder,
    load_backbone,
    load_tokenizer,
    token_embedding_matrix,
    token_lengths,
)
from recft_utils.text.model_files import (
    DEFAULT_MODEL,
    EMBEDDING_DIM,
    MODEL_SHA256,
    ChecksumError,
    ModelError,
    find_model_dir,
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
    "random_delete",
    "random_swap",
    "synonym_replace",
    "token_embedding_matrix",
    "token_lengths",
    "typo_perturb",
    "verify_weights",
]
