"""Load and check an exported model folder (see :mod:`recft_utils.serving.export`), then query it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.artefacts import read_json, sha256_file
from recft_utils.errors import RecftError
from recft_utils.serving.export import FORMAT

MAX_K = 100


class ModelFolderError(RecftError):
    """The model folder is missing, incomplete or damaged."""


@dataclass
class ServedModel:
    """An exported recommender, loaded: its metadata, its catalogue and its two signatures."""

    folder: Path
    metadata: dict
    items: pd.DataFrame  # indexed by item id: warm, title
    customers: pd.DataFrame  # indexed by customer id: history_items (length of the stored history)
    signatures: dict

    @property
    def version(self) -> str:
        return self.metadata["version"]

    @classmethod
    def load(cls, folder) -> "ServedModel":
        """Check every file against the metadata's checksums, then load the SavedModel."""
        import tensorflow as tf

        folder = Path(folder)
        fix = f"Export it again (notebook 04, or `recft export --run-dir RUN --out {folder}`)."
        if not (folder / "metadata.json").is_file():
            raise ModelFolderError(f"{folder} is not a recft model folder (no metadata.json). {fix}")
        try:
            metadata = read_json(folder / "metadata.json")
        except ValueError as exc:
            raise ModelFolderError(f"{folder}/metadata.json is not valid JSON ({exc}). {fix}") from exc
        if metadata.get("format") != FORMAT:
            raise ModelFolderError(f"{folder}: format {metadata.get('format')!r}, expected {FORMAT!r}. {fix}")
        for name, digest in metadata["files"].items():
            path = folder / name
            if not path.is_file():
                raise ModelFolderError(f"{folder}: {name} is missing. {fix}")
            if sha256_file(path) != digest:
                raise ModelFolderError(f"{folder}: {name} does not match its checksum (damaged or edited). {fix}")
        loaded = tf.saved_model.load(str(folder / "saved_model"))
        items = pd.read_parquet(folder / "items.parquet").set_index("item_id")
        customers = pd.read_parquet(folder / "customers.parquet").set_index("customer_id")
        return cls(folder, metadata, items, customers, dict(loaded.signatures))

    def recommend(self, k: int = 10, items=None, ages=None, customer_id: str | None = None, exclude=(),
                  exclude_history: bool = True) -> pd.DataFrame:
        """Top-``k`` items for one history (``items`` most recent first, ``ages`` in days) or one known customer.

        Returns a frame of ``item_id`` and ``score``, best first. Unknown
        items in ``items`` are ignored by the model (the service lists them).
        """
        import tensorflow as tf

        common = {"exclude": tf.constant([list(exclude) or [""]]), "exclude_history": tf.constant(exclude_history),
                  "k": tf.constant(int(k), tf.int32)}
        if customer_id is not None:
            out = self.signatures["recommend_customer"](customer_ids=tf.constant([str(customer_id)]), **common)
        else:
            ages = np.zeros(len(items), np.float32) if ages is None else np.asarray(ages, np.float32)
            out = self.signatures["recommend_items"](items=tf.constant([list(items)]), ages=tf.constant(ages[None]),
                                                    **common)
        ids = out["item_ids"].numpy()[0].astype(str)
        scores = out["scores"].numpy()[0]
        keep = np.isfinite(scores)  # fewer than k items left after exclusions
        return pd.DataFrame({"item_id": ids[keep], "score": scores[keep].astype(float)})
