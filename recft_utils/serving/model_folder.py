"""The model folder's format (written by :mod:`recft_utils.serving.export`): load it, check it, query it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.artefacts import read_json, sha256_file
from recft_utils.errors import RecftError
from recft_utils.serving.ann import AnnIndex, AnnSettings

# 2: the customers' histories moved out of the SavedModel into histories.npz (and
# recommend_customer with them); user_vectors and the optional index.usearch came in.
FORMAT = "recft-saved-model/2"
HISTORIES_FILE = "histories.npz"
METADATA = "metadata.json"  # format, version, sizes and every file's checksum
MAX_K = 100
SEARCHES = ("exact", "ann")  # brute force in the SavedModel; the usearch index beside it


@dataclass
class CustomerHistories:
    """Every known customer's recent items, as flat arrays (no Python object per customer).

    Customer ``customer_ids[i]`` (UTF-8 bytes, sorted, so a lookup is a binary search)
    bought the catalogue rows ``items[offsets[i]:offsets[i + 1]]`` (rows of
    ``items.parquet``, most recent first), ``ages[...]`` days before the export day.
    """

    customer_ids: np.ndarray  # (customers,) bytes, sorted
    offsets: np.ndarray  # (customers + 1,) int64
    items: np.ndarray  # (purchases,) int32
    ages: np.ndarray  # (purchases,) float32

    @classmethod
    def from_padded(cls, customers: np.ndarray, histories) -> "CustomerHistories":
        """From :func:`~recft_utils.models.training_data.window_histories`' padded rows of ``customers``."""
        ids = np.char.encode(np.asarray(customers).astype(str), "utf-8")
        order = np.argsort(ids, kind="stable")
        if len(ids) and (ids[order][1:] == ids[order][:-1]).any():
            raise ValueError("customer ids are not unique")
        mask = np.asarray(histories.mask)[order] > 0  # a prefix of each row: most recent first
        offsets = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
        return cls(
            ids[order],
            offsets,
            np.asarray(histories.items)[order][mask].astype(np.int32),
            np.asarray(histories.ages)[order][mask].astype(np.float32),
        )

    def save(self, path) -> Path:
        with open(path, "wb") as handle:  # uncompressed: loads as fast as the disk reads
            np.savez(handle, customer_ids=self.customer_ids, offsets=self.offsets, items=self.items, ages=self.ages)
        return Path(path)

    @classmethod
    def load(cls, path) -> "CustomerHistories":
        with np.load(path, allow_pickle=False) as arrays:
            return cls(arrays["customer_ids"], arrays["offsets"], arrays["items"], arrays["ages"])

    def __len__(self) -> int:
        return len(self.customer_ids)

    def position(self, customer_id) -> int | None:
        """The customer's position in the table, or None when the customer is unknown."""
        key = str(customer_id).encode("utf-8")
        if len(key) > self.customer_ids.dtype.itemsize:  # longer than every stored id: not one of them
            return None
        at = int(np.searchsorted(self.customer_ids, key))
        return at if at < len(self) and self.customer_ids[at] == key else None

    def __contains__(self, customer_id) -> bool:
        return self.position(customer_id) is not None

    def history(self, customer_id) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, ages)`` of a known customer, most recent first; KeyError for an unknown one."""
        at = self.position(customer_id)
        if at is None:
            raise KeyError(customer_id)
        start, end = self.offsets[at], self.offsets[at + 1]
        return self.items[start:end], self.ages[start:end]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


class ModelFolderError(RecftError):
    """The model folder is missing, incomplete or damaged."""


class UnknownCustomerError(RecftError, KeyError):
    """The customer has no stored history in this model folder."""


@dataclass
class ServedModel:
    """An exported recommender, loaded: its metadata, its catalogue, the customers' histories, its
    signatures and (for a large catalogue) its approximate index."""

    folder: Path
    metadata: dict
    items: pd.DataFrame  # indexed by item id, in the SavedModel's row order: warm, title
    histories: CustomerHistories
    signatures: dict
    item_vectors: np.ndarray  # (items, dim) through the adapter, as in the SavedModel
    prior: np.ndarray  # (items,) on the export day
    ann: AnnIndex | None = None
    item_ids: np.ndarray = field(init=False, repr=False)  # row → id

    def __post_init__(self):
        self.item_ids = np.asarray(self.items.index, dtype=str)  # once, not per request

    @property
    def version(self) -> str:
        return self.metadata["version"]

    @property
    def search(self) -> str:
        """How :meth:`recommend` searches by default: ``ann`` when the folder has an index."""
        return "ann" if self.ann is not None else "exact"

    @classmethod
    def load(cls, folder) -> "ServedModel":
        """Check every file against the metadata's checksums, then load the SavedModel, the histories and the index."""
        from recft_utils.keras_backend import tf

        folder = Path(folder)
        metadata = check_folder(folder)
        loaded = tf.saved_model.load(str(folder / "saved_model"))
        items = pd.read_parquet(folder / "items.parquet").set_index("item_id")
        item_vectors, prior = loaded.item_vectors.numpy(), loaded.prior.numpy()  # the module's own variables
        ann = None
        if metadata.get("ann"):
            settings = AnnSettings(**{key: metadata["ann"][key] for key in AnnSettings.__dataclass_fields__})
            ann = AnnIndex.load(folder / metadata["ann"]["file"], item_vectors, prior, settings)
        return cls(
            folder,
            metadata,
            items,
            CustomerHistories.load(folder / metadata["histories"]),
            dict(loaded.signatures),
            item_vectors,
            prior,
            ann,
        )

    def recommend(
        self,
        k: int = 10,
        items=None,
        ages=None,
        customer_id: str | None = None,
        exclude=(),
        exclude_history: bool = True,
        search: str | None = None,
    ) -> pd.DataFrame:
        """Top-``k`` items for one history (``items`` most recent first, ``ages`` in days) or one known customer.

        Returns a frame of ``item_id`` and ``score``, best first; ``frame.attrs["search"]`` says
        which search answered (``search``: ``exact`` or ``ann``, default :attr:`search`).
        Unknown items in ``items`` are ignored (the service lists them); an unknown
        ``customer_id`` raises :class:`UnknownCustomerError`.
        """
        if customer_id is not None:
            items, ages = self.customer_history(customer_id)
        items = [str(i) for i in items]
        ages = np.zeros(len(items), np.float32) if ages is None else np.asarray(ages, np.float32)
        if not items:  # a customer without purchases: one padding id, as the padded table had
            items, ages = [""], np.zeros(1, np.float32)
        search = search or self.search
        if search not in SEARCHES or (search == "ann" and self.ann is None):
            raise ValueError(f"search must be one of {SEARCHES} ('ann' needs a folder exported with an index)")
        if search == "ann":
            top = self._approximate(k, items, ages, exclude, exclude_history)
        else:
            top = self._exact(k, items, ages, exclude, exclude_history)
        top.attrs["search"] = search
        return top

    def customer_history(self, customer_id) -> tuple[np.ndarray, np.ndarray]:
        """The stored ``(item ids, ages)`` of a known customer, most recent first."""
        try:
            rows, ages = self.histories.history(customer_id)
        except KeyError:
            raise UnknownCustomerError(f"customer {customer_id!r} has no stored history") from None
        return self.item_ids[rows], ages

    def user_vectors(self, histories: list, ages: list | None = None) -> np.ndarray:
        """(len(histories), dim) user vectors of item-id lists (most recent first), from the SavedModel."""
        from recft_utils.keras_backend import tf

        width = max(1, max((len(h) for h in histories), default=0))
        padded = np.full((len(histories), width), "", dtype=object)
        padded_ages = np.zeros((len(histories), width), np.float32)
        for n, history in enumerate(histories):
            padded[n, : len(history)] = [str(i) for i in history]
            if ages is not None:
                padded_ages[n, : len(history)] = ages[n]
        out = self.signatures["user_vectors"](items=tf.constant(padded.astype(str)), ages=tf.constant(padded_ages))
        return out["user_vectors"].numpy()

    def customer_user_vectors(self, customer_ids) -> np.ndarray:
        """User vectors of known customers from their stored histories (real queries for
        :func:`~recft_utils.benchmark.ann_search.compare_with_exact`)."""
        stored = [self.customer_history(c) for c in customer_ids]
        return self.user_vectors([items for items, _ in stored], [ages for _, ages in stored])

    def _exact(self, k, items, ages, exclude, exclude_history) -> pd.DataFrame:
        """The SavedModel's ``recommend_items``: every item scored."""
        from recft_utils.keras_backend import tf

        out = self.signatures["recommend_items"](
            items=tf.constant([items]),
            ages=tf.constant(ages[None]),
            exclude=tf.constant([list(exclude) or [""]]),
            exclude_history=tf.constant(exclude_history),
            k=tf.constant(int(k), tf.int32),
        )
        ids = out["item_ids"].numpy()[0].astype(str)
        scores = out["scores"].numpy()[0]
        keep = np.isfinite(scores)  # fewer than k items left after exclusions
        return pd.DataFrame({"item_id": ids[keep], "score": scores[keep].astype(float)})

    def _approximate(self, k, items, ages, exclude, exclude_history) -> pd.DataFrame:
        """The index's candidates re-scored exactly, with the SavedModel's user vector."""
        user = self.user_vectors([items], [ages])[0]
        rows = self.items.index.get_indexer([str(i) for i in exclude]) if len(exclude) else np.empty(0, np.int64)
        if exclude_history:
            rows = np.concatenate([rows, self.items.index.get_indexer(items)])
        top, scores = self.ann.top_k(user, min(int(k), len(self.items)), rows[rows >= 0])  # -1: unknown id
        return pd.DataFrame({"item_id": self.item_ids[top], "score": scores.astype(float)})


def check_folder(folder: Path) -> dict:
    """The folder's metadata, once its format and every file's checksum are as expected."""
    fix = f"Export it again (notebook 04, or `recft export --run-dir RUN --out {folder}`)."
    if not (folder / METADATA).is_file():
        raise ModelFolderError(f"{folder} is not a recft model folder (no metadata.json). {fix}")
    try:
        metadata = read_json(folder / METADATA)
    except ValueError as exc:
        raise ModelFolderError(f"{folder}/metadata.json is not valid JSON ({exc}). {fix}") from exc
    if metadata.get("format") != FORMAT:
        older = (
            " (an older export: customer histories inside the SavedModel)"
            if metadata.get("format") == "recft-saved-model/1"
            else ""
        )
        raise ModelFolderError(
            f"{folder}: format {metadata.get('format')!r}{older}, this recft serves {FORMAT!r} "
            f"({HISTORIES_FILE} and an optional index beside the SavedModel). {fix}"
        )
    for name, digest in metadata["files"].items():
        path = folder / name
        if not path.is_file():
            raise ModelFolderError(f"{folder}: {name} is missing. {fix}")
        if sha256_file(path) != digest:
            raise ModelFolderError(f"{folder}: {name} does not match its checksum (damaged or edited). {fix}")
    return metadata
