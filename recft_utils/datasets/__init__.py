"""Datasets: the built-in UCI Online Retail, bring-your-own files and a synthetic shop.

:func:`load_interactions` is the one entry point the notebooks use. A dataset is named
``online-retail``, the path of a CSV/parquet file, or ``synthetic:ITEMS:INTERACTIONS[:STYLE]``
(e.g. ``synthetic:4000:400000``, ``synthetic:70000:1500000:grocery``): a generated shop of that size and kind
(:mod:`recft_utils.datasets.synthetic`), for measuring cost at scale, never for results. It
is always generated with seed 0 (:data:`SYNTHETIC_SEED`), so that a name is one dataset
whatever the run's sampling seed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recft_utils.datasets import online_retail
from recft_utils.datasets.cleaning import clean_online_retail
from recft_utils.datasets.interactions import (
    SUFFIXES,
    read_interactions_file,
    sample_customers,
)
from recft_utils.datasets.synthetic import STYLES, parse_spec, synthetic_shop
from recft_utils.errors import ParameterError

BUILTIN = {"online-retail": online_retail}
SYNTHETIC_SEED = 0  # the generator's seed: fixed, so that the seed parameter only samples customers


def is_synthetic(dataset: str) -> bool:
    """Whether ``dataset`` names a synthetic shop (``synthetic:...``), well-formed or not."""
    return dataset == "synthetic" or dataset.startswith("synthetic:")


def check_dataset_name(dataset: str) -> None:
    """Accept a built-in name, the path of an existing CSV/parquet file or a valid
    ``synthetic:ITEMS:INTERACTIONS[:STYLE]``."""
    if not isinstance(dataset, str) or not dataset:
        raise ParameterError(f"Parameter dataset must be a name or a file path, got {dataset!r}.")
    if dataset in BUILTIN:
        return
    if is_synthetic(dataset):
        parse_spec(dataset)  # raises, naming the problem and the fix
        return
    path = Path(dataset)
    if path.suffix.lower() in SUFFIXES:
        if not path.exists():
            raise ParameterError(f"Dataset file {dataset} does not exist; check the path.")
        return
    raise ParameterError(
        f"Unknown dataset {dataset!r}. Use one of {', '.join(BUILTIN)}, the path of a .csv/.parquet "
        f"file with columns user_id, item_id, timestamp, item_text, or synthetic:ITEMS:INTERACTIONS[:STYLE] "
        f"(a generated shop, not real data; e.g. synthetic:4000:400000 or synthetic:70000:1500000:grocery)."
    )


def load_interactions(
    dataset: str = "online-retail", max_customers: int | None = None, seed: int = 42, data_end: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load a dataset as cleaned interactions in the recft schema.

    Returns ``(interactions, cleaning_report)``; a bring-your-own file is
    validated rather than cleaned, and a synthetic shop generated (with
    :data:`SYNTHETIC_SEED`, not ``seed``, which only samples customers); the
    report of either has a single row.
    ``data_end`` (a date) keeps only the interactions before it; the report
    then says how many rows the cut removed.
    """
    from recft_utils.evaluation.split import end_data

    check_dataset_name(dataset)
    if dataset == "online-retail":
        interactions, report = clean_online_retail(online_retail.load_raw())
    elif is_synthetic(dataset):
        interactions, report = _synthetic(dataset)
    else:
        interactions = read_interactions_file(dataset)
        report = pd.DataFrame(
            [{"rule": "validated", "why": "bring-your-own file", "rows_removed": 0, "rows_left": len(interactions)}]
        )
    interactions = interactions.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if data_end:
        kept = end_data(interactions, data_end).reset_index(drop=True)
        report = pd.concat(
            [
                report,
                pd.DataFrame(
                    [
                        {
                            "rule": "data_end",
                            "why": f"interactions on or after {data_end} are left out (parameter data_end)",
                            "rows_removed": len(interactions) - len(kept),
                            "rows_left": len(kept),
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
        interactions = kept
    return sample_customers(interactions, max_customers, seed), report


def _synthetic(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic shop a spec names, and its one-row report."""
    items, lines, style = parse_spec(dataset)
    interactions = synthetic_shop(items=items, interactions=lines, seed=SYNTHETIC_SEED, **STYLES[style])
    why = (
        f"synthetic shop (not real data, {style} style): {items} products, about {lines} lines, generated "
        f"with seed {SYNTHETIC_SEED} (recft_utils.datasets.synthetic)"
    )
    return interactions, pd.DataFrame(
        [{"rule": "generated", "why": why, "rows_removed": 0, "rows_left": len(interactions)}]
    )
