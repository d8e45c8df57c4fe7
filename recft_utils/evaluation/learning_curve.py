"""Reading a learning curve: models trained on growing shares of the customers, pooled over windows.

``python -m recft_utils.benchmark learning-curve`` trains the models; the
functions here turn its per-customer scores (a ``fraction`` column beside
the rolling origin's columns) into the curve, its paired differences and
the sentences that say where the language model pays.
"""

from __future__ import annotations

import pandas as pd

from recft_utils.evaluation.metrics import bootstrap_interval
from recft_utils.evaluation.rolling_origin import decision_interval, paired_comparison


def curve_table(scores: pd.DataFrame, samples: int = 1000) -> pd.DataFrame:
    """Pooled NDCG@10 of each model at each size and view, with its interval over customers."""
    rows = []
    for (fraction, view, model), part in scores.groupby(["fraction", "view", "model"], sort=False):
        per_customer = part.groupby(["window", "user_id"])["ndcg"].mean().to_numpy()
        low, high = bootstrap_interval(per_customer, samples)
        rows.append(
            {
                "fraction": fraction,
                "view": view,
                "model": model,
                "ndcg@10": float(per_customer.mean()),
                "low": low,
                "high": high,
                "n_users": len(per_customer),
            }
        )
    return pd.DataFrame(rows).sort_values(["view", "model", "fraction"], ignore_index=True)


def curve_differences(
    scores: pd.DataFrame, pairs, samples: int = 1000, gains: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each ``(model, baseline)`` of ``pairs`` at each size and view, paired per customer, pooled over windows.

    ``low``/``high`` is the interval over customers; with ``gains`` (the benchmark's per-product gains,
    a ``fraction`` and a ``view`` column) the cold views also get ``low_two_way``/``high_two_way``,
    over customers and products. :func:`curve_sentences` decides on the wider of the two.
    """
    rows = []
    for (fraction, view), part in scores.groupby(["fraction", "view"], sort=False):
        present = set(part["model"])
        own = None if gains is None else gains[(gains["fraction"] == fraction) & (gains["view"] == view)]
        for model, baseline in pairs:
            if {model, baseline} <= present:
                table = paired_comparison(part, model, baseline, view, samples, gains=own)
                rows.append(table[table["window"] == "pooled"].iloc[0].to_dict() | {"fraction": fraction})
    return pd.DataFrame(rows).drop(columns=["window"])


# Below this many customers a bootstrap interval says nothing (two customers who bought the one new
# product give an interval of width 0): the sentence says so instead of "above" or "below" 0.
MIN_CUSTOMERS = 30


def curve_sentences(differences: pd.DataFrame) -> list[str]:
    """One sentence per comparison and view: at which shares of the customers the model's interval lies
    above 0, below 0, or neither (the wider interval where a cold view has two: ``decision_interval``),
    and at which fewer than :data:`MIN_CUSTOMERS` customers were measured, too few to tell."""
    lines = []
    for (view, model, baseline), rows in differences.groupby(["view", "model", "baseline"], sort=False):
        verdicts = {"above 0": [], "below 0": [], "containing 0": [], "too few": []}
        for row in rows.sort_values("fraction").to_dict(orient="records"):
            if row["n_users"] < MIN_CUSTOMERS:
                verdicts["too few"].append(f"{row['fraction']:.0%} ({row['n_users']})")
                continue
            low, high = decision_interval(row)
            key = "above 0" if low > 0 else "below 0" if high < 0 else "containing 0"
            verdicts[key].append(f"{row['fraction']:.0%} ({row['difference']:+.4f})")
        few = verdicts.pop("too few")
        parts = [f"{key} at {', '.join(shares)}" for key, shares in verdicts.items() if shares]
        parts = ["interval " + "; ".join(parts)] if parts else []
        if few:
            parts.append(f"too few customers to tell at {', '.join(few)}")
        lines.append(f"{view}, {model} minus {baseline}: " + "; ".join(parts) + ".")
    return lines
