"""Item-to-item models, and which one a shop's catalogue affords on this machine.

Both score a customer as ``bought @ W``: the sum, over what they bought, of an item × item matrix
``W`` (:attr:`item_weights`):

- :class:`EASE` (Steck, 2019), dense: one inverse of the catalogue × catalogue Gram matrix. The
  best classical model on the built-in shop, but its memory grows with the square of the
  catalogue and its time with the cube (:func:`dense_ease_cost` estimates both for a size, on
  this machine);
- :class:`ItemKNN`, sparse: cosine similarity between items' buyer sets, each item's strongest
  ``neighbours`` links kept, computed a block of columns at a time, so that memory grows with
  the links kept rather than with the square of the catalogue.

:func:`choose_item_model` picks EASE in float64 where its fit fits the budgets (half the memory
available now, :data:`EASE_SECONDS` estimated from a small timed inverse), else EASE in float32
(the same top 10 for nearly every customer: ``tests/test_item_to_item.py``), else ItemKNN; step 1
records the choice (:class:`ItemModelChoice`) with a sentence saying why, and every later step
builds the same model from it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from recft_utils import machine
from recft_utils.errors import ParameterError
from recft_utils.models.recommender import Recommender, binary

EASE_L2 = 300.0  # the guide's λ, best on validation among 100-1000 for the built-in shop
ITEMKNN_NEIGHBOURS = 100
# Budgets of one dense EASE fit. The chain fits the item-to-item model about ten times (step 1's
# tuning and test, step 3's blend, step 4's export, step 6's monthly retrains), and a workshop
# cannot wait: 30 s a fit keeps that under five minutes. Half the memory available leaves room
# for the data and the rest of the step.
EASE_SECONDS = 30.0
MEMORY_SHARE = 0.5
# catalogue × catalogue matrices alive at once: float64's general inverse holds the Gram matrix, its
# inverse and the weights; float32's in-place inverse one, plus the sparse co-counts (at most as big)
DENSE_MATRICES = {"float64": 3, "float32": 2}
ITEM_MODELS = ("auto", "EASE", "ItemKNN")  # notebook 01's parameter `item_model`
# ItemKNN: co-purchase counts held at once; arrays under glibc's 32 MB mmap threshold are reused, not faulted in
BLOCK_ENTRIES = 2_000_000


def fitted_once(task, key: tuple, compute, *args):
    """``compute(task, *args)``, once per task and ``key``: kept on the task itself while it lives.

    Step 1 fits the same item-to-item model on the test task for its reference table and inside the
    classical bar, and later steps refit the bar on the same task; on a large catalogue each fit costs
    seconds to minutes. The result is shared, read-only, by every model fitted with the same key.
    """
    cache = task.__dict__.setdefault("_item_to_item", {})
    if key not in cache:
        cache[key] = compute(task, *args)
    return cache[key]


class EASE(Recommender):
    """EASE (Steck, 2019): a closed-form item-item linear model.

    ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹`` and a zero diagonal; scores are ``X B``.
    In float64 a general inverse (three catalogue × catalogue matrices at once); in float32 a
    Cholesky factorisation inverted in place (:func:`spd_inverse`: one matrix, and a quarter of
    the time on these machines).
    """

    def __init__(self, l2: float = EASE_L2, dtype: str = "float64"):
        if l2 <= 0:
            raise ParameterError(f"EASE needs a positive l2 (λ), got {l2}.")
        if dtype not in ("float32", "float64"):
            raise ParameterError(f"EASE computes in float32 or float64, got {dtype!r}.")
        self.l2, self.dtype = l2, dtype
        self.name = f"EASE (λ = {l2:g})" if dtype == "float64" else f"EASE (λ = {l2:g}, {dtype})"

    def fit(self, task):
        super().fit(task)
        self.weights, self.x = fitted_once(task, ("EASE", self.l2, self.dtype), self._weights)
        return self

    def _weights(self, task) -> tuple[np.ndarray, sp.csr_matrix]:
        x = binary(task.matrix)
        gram = (x.T @ x).astype(self.dtype).toarray(order="F")
        gram[np.diag_indices_from(gram)] += self.l2
        if self.dtype == "float64":  # as recft always computed it: the built-in shop's figures stay bit for bit
            inverse = np.linalg.inv(gram)
            weights = -inverse / np.diag(inverse)[None, :]
        else:
            weights = spd_inverse(gram)
            weights /= -np.diag(weights).copy()[None, :]
        np.fill_diagonal(weights, 0.0)
        return weights, x

    @property
    def item_weights(self) -> np.ndarray:
        """``W`` (items × items, dense): a customer's scores are ``bought @ W``."""
        return self.weights

    def score(self, user_rows):
        return np.asarray(self.x[user_rows] @ self.weights, dtype=np.float64)


def spd_inverse(matrix: np.ndarray, block: int = 2048) -> np.ndarray:
    """The inverse of a symmetric positive-definite Fortran-ordered ``matrix``, computed in its memory.

    LAPACK fills the lower triangle; the upper is then copied from it a band of rows at a time, so
    that no second catalogue × catalogue matrix is ever allocated.
    """
    potrf, potri = (lapack.spotrf, lapack.spotri) if matrix.dtype == np.float32 else (lapack.dpotrf, lapack.dpotri)
    factor, info = potrf(matrix, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise ParameterError(
            f"EASE's regularised Gram matrix is not positive definite in {matrix.dtype} "
            f"(LAPACK info {info}); give EASE a larger l2 or compute in float64."
        )
    inverse, info = potri(factor, lower=True, overwrite_c=True)
    n = len(inverse)
    for start in range(0, n, block):
        stop = min(start + block, n)
        square = inverse[start:stop, start:stop]
        square[:] = np.tril(square) + np.tril(square, -1).T
        inverse[start:stop, stop:] = inverse[stop:, start:stop].T
    return inverse


class ItemKNN(Recommender):
    """Item-based neighbours: cosine similarity between items' buyer sets, kept sparse.

    A customer's score for an item is the summed similarity of the item to everything they
    bought. ``neighbours`` keeps each item's strongest links (ties at the cut-off included), and
    the similarity is then computed a block of items at a time (:data:`BLOCK_ENTRIES` co-purchase
    counts at once): memory grows with the links kept, not with the square of the catalogue.
    The same result as all at once, to the last bit (``tests/test_item_to_item.py``).
    """

    def __init__(self, neighbours: int | None = None):
        self.neighbours = neighbours
        self.name = "ItemKNN (cosine)" if neighbours is None else f"ItemKNN (cosine, {neighbours} neighbours)"

    def fit(self, task, block: int | None = None):
        super().fit(task)
        self.x, self.similarity = fitted_once(task, ("ItemKNN", self.neighbours, block), self._similarity, block)
        return self

    def _similarity(self, task, block: int | None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        x = binary(task.matrix).tocsr()
        counts = np.asarray(x.sum(axis=0)).ravel()
        norms = np.sqrt(counts)
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        n = x.shape[1]
        if block is None:  # columns per block: about BLOCK_ENTRIES co-purchase counts
            pairs = float(np.square(np.diff(x.indptr)).sum())  # co-purchases, counted per customer
            block = n if not self.neighbours else int(np.clip(BLOCK_ENTRIES * n / max(pairs, 1.0), 64, n))
        columns = x.tocsc()
        parts = [
            self._similarity_block(x, columns, inverse, start, min(start + block, n)) for start in range(0, n, block)
        ]
        return x, sp.hstack(parts, format="csc").tocsr() if parts else sp.csr_matrix((n, n))

    def _similarity_block(self, x, columns, inverse, start: int, stop: int) -> sp.csc_matrix:
        """Columns ``start:stop`` of the cosine similarity, each cut to its strongest neighbours."""
        # the block's co-purchase counts as CSR, one row per block item: the columns wanted without
        # a conversion to CSC (it cost as much as the product)
        co = columns[:, start:stop].T @ x  # indices unsorted within a row: nothing below needs them sorted
        item = np.repeat(np.arange(stop - start, dtype=np.int32), np.diff(co.indptr))  # each entry's block item
        # (co-purchases × 1/‖row‖) × 1/‖column‖, rounded so that equal similarities tie exactly at the
        # cut-off whatever the float path; an item is not its own neighbour. In place: a block holds
        # millions of counts.
        data = inverse[co.indices]
        data *= co.data
        data *= inverse[start + item]
        np.round(data, 12, out=data)
        keep = co.indices != start + item
        keep &= data != 0
        if self.neighbours and self.neighbours < x.shape[1]:
            keep &= _strongest_in_columns(data, co.indptr, keep, self.neighbours)
        kept = np.r_[0, np.cumsum(np.bincount(item[keep], minlength=stop - start))]
        return sp.csc_matrix((data[keep], co.indices[keep], kept), shape=(co.shape[1], co.shape[0]))

    @property
    def item_weights(self) -> sp.csr_matrix:
        """``W`` (items × items, sparse): a customer's scores are ``bought @ W``."""
        return self.similarity

    def score(self, user_rows):
        return (self.x[user_rows] @ self.similarity).toarray()


def _strongest_in_columns(data: np.ndarray, indptr: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Of each column's entries (``indptr``; only where ``keep``), the ``n`` largest and any tied with the
    ``n``-th: a mask over ``data``. One partition per column, of that column's entries only."""
    strongest = np.zeros(len(data), bool)
    for start, stop in zip(indptr[:-1], indptr[1:]):
        values = np.where(keep[start:stop], data[start:stop], -np.inf)
        if len(values) > n:
            cut = np.partition(values, len(values) - n)[len(values) - n]
            strongest[start:stop] = values >= cut
        else:
            strongest[start:stop] = True
    return strongest


@cache
def seconds_per_cube(dtype: str, size: int = 3000) -> float:
    """Measured seconds of EASE's inverse in ``dtype`` per cubed row on this machine (the faster of two
    inverses of ``size`` rows, once per process: about 2 s in all on 2 cores).

    Small inverses use the cores less well than large ones, so the estimate errs on the slow side.
    """
    rng = np.random.default_rng(0)
    sample = rng.random((size, 64)).astype(dtype)
    best = np.inf
    for _ in range(2):
        matrix = np.asfortranarray(sample @ sample.T + np.eye(size, dtype=dtype))
        started = time.perf_counter()
        np.linalg.inv(matrix) if dtype == "float64" else spd_inverse(matrix)
        best = min(best, time.perf_counter() - started)
    return best / size**3


@dataclass(frozen=True)
class ItemModelChoice:
    """The item-to-item model a run uses, and why (step 1 saves it; later steps rebuild from it).

    ``model`` is ``"EASE"`` or ``"ItemKNN"``; ``dtype`` EASE's precision; ``reason`` one
    sentence for the notebook; the rest the figures behind it.
    """

    model: str
    dtype: str
    items: int
    reason: str
    ease_gb: float = 0.0  # dense EASE's memory in the dtype it would use
    ease_seconds: float = 0.0  # and its estimated time per fit
    memory_budget_gb: float = 0.0
    seconds_budget: float = EASE_SECONDS

    def build(self) -> Recommender:
        """An unfitted model of this choice."""
        return build_item_model(self.model, self.dtype)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "ItemModelChoice":
        """From :meth:`as_dict`; ``None`` (a run of an older recft) is EASE in float64, as it was then."""
        if not data:
            return cls("EASE", "float64", 0, "EASE, the item-to-item model of runs before the choice was made")
        return cls(**data)

    @classmethod
    def from_run(cls, run) -> "ItemModelChoice":
        """Step 1's choice, read from a :class:`~recft_utils.run.Run`'s ``item_model.json``."""
        return cls.from_dict(run.read("01_requirements", run.ITEM_MODEL))


def build_item_model(model: str = "EASE", dtype: str = "float64") -> Recommender:
    """An unfitted item-to-item model: ``EASE`` (λ = :data:`EASE_L2`, in ``dtype``) or ``ItemKNN``."""
    return ItemKNN(ITEMKNN_NEIGHBOURS) if model == "ItemKNN" else EASE(EASE_L2, dtype or "float64")


def dense_ease_cost(items: int, dtype: str, rate: float | None = None) -> tuple[float, float]:
    """Dense EASE's memory (GB) and estimated seconds per fit on ``items`` products in ``dtype``."""
    itemsize = np.dtype(dtype).itemsize
    rate = seconds_per_cube(dtype) if rate is None else rate
    return DENSE_MATRICES[dtype] * itemsize * items**2 / 1e9, rate * items**3


def check_item_model(wanted) -> str:
    """``wanted`` itself when it is a value of notebook 01's parameter ``item_model``, else an error."""
    if wanted not in ITEM_MODELS:
        raise ParameterError(
            f"Parameter item_model must be one of {', '.join(ITEM_MODELS)}, got {wanted!r}; "
            f"'auto' picks dense EASE where this machine affords it, else sparse ItemKNN."
        )
    return wanted


def choose_item_model(
    items: int, wanted: str = "auto", memory: int | None = None, rates: dict | None = None
) -> ItemModelChoice:
    """EASE in float64 where it fits both budgets, else in float32, else ItemKNN (``wanted="auto"``).

    ``wanted`` ``"EASE"`` or ``"ItemKNN"`` forces a model (notebook 01's parameter ``item_model``);
    EASE is still refused, with the figures, when it cannot fit the memory. ``memory`` (bytes
    available) and ``rates`` (seconds per cubed row, by dtype) default to this machine's.
    """
    check_item_model(wanted)
    budget_gb = MEMORY_SHARE * (machine.available_memory() if memory is None else memory) / 1e9
    costs = {
        dtype: dense_ease_cost(items, dtype, None if rates is None else rates[dtype])
        for dtype in ("float64", "float32")
    }
    fits = [
        dtype
        for dtype, (gb, seconds) in costs.items()
        if gb <= budget_gb and (seconds <= EASE_SECONDS or wanted == "EASE")
    ]
    dtype = fits[0] if fits else "float32"
    gb, seconds = costs[dtype]
    figures = {
        "items": items,
        "ease_gb": round(gb, 3),
        "ease_seconds": round(seconds, 1),
        "memory_budget_gb": round(budget_gb, 1),
        "seconds_budget": EASE_SECONDS,
    }
    cost = (
        f"dense EASE in {dtype} on {items:,} products needs about {_gb(gb)} of memory (budget "
        f"{budget_gb:.1f} GB, half of what is available) and {_duration(seconds)} a fit (budget "
        f"{EASE_SECONDS:g} s: the chain fits it about ten times)"
    )
    if wanted == "EASE" and not fits:
        raise ParameterError(
            f"Parameter item_model is EASE, but {cost}: it does not fit this machine's "
            f"memory. Use item_model='ItemKNN' (sparse) or 'auto'."
        )
    if fits and wanted != "ItemKNN":
        return ItemModelChoice(
            "EASE",
            dtype,
            reason=f"The item-to-item model is dense EASE ({'as asked' if wanted == 'EASE' else 'it fits'}): {cost}.",
            **figures,
        )
    why = "as asked (parameter item_model)" if wanted == "ItemKNN" else f"because {cost}"
    return ItemModelChoice(
        "ItemKNN",
        "",
        reason=f"The item-to-item model is ItemKNN ({ITEMKNN_NEIGHBOURS} "
        f"neighbours per product, sparse) rather than EASE, {why}.",
        **figures,
    )


def _gb(gb: float) -> str:
    return f"{gb * 1000:.0f} MB" if gb < 1 else f"{gb:.1f} GB"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"
