"""Which model step 4 serves: every candidate it can export, cheapest first, and a margin to pay for cost.

The candidates, from the cheapest to train and run to the costliest:

- ``classical``: EASE + recent popularity, the fair bar step 1 sets (no language model);
- ``frozen``: the two-tower model on the frozen encoder's item vectors;
- ``blend``: the two (their standardised scores mixed, weight chosen on validation);
- ``top_k``, ``lora``, ``full``: the two-tower model with its encoder fine-tuned.

A costlier candidate is *eligible* only when its paired per-customer interval
against **every** cheaper candidate lies above 0 (discovery NDCG@10 on the
validation window, 95 % bootstrap over customers): a gain the size of seed
noise does not buy a costlier model. The cheapest is always eligible. Step 4
serves the costliest eligible candidate; since it beats each cheaper eligible
one by a margin, it is also the best of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.evaluation.metrics import paired_difference

# cheapest first
CANDIDATE_ORDER = ("classical", "frozen", "blend", "top_k", "lora", "full")
FINE_TUNED = CANDIDATE_ORDER[3:]
SERVING_RULE = (
    "Step 4 serves the costliest candidate whose paired 95 % interval of discovery NDCG@10 on the "
    "validation window lies above 0 against every cheaper candidate (cheapest first: EASE + recent "
    "popularity, the two-tower on the frozen encoder, their blend, then each fine-tuned encoder); "
    "a gain inside seed noise goes to the cheaper model."
)


@dataclass
class ServingCandidate:
    """One candidate: its key in :data:`CANDIDATE_ORDER`, its name and family, and its
    per-customer validation discovery NDCG@10 (a Series indexed by customer)."""

    key: str
    model: str
    family: str
    scores: pd.Series


def validation_scores(model, valid_task, k: int = 10) -> pd.Series:
    """Per-customer discovery NDCG@``k`` of a model fitted on ``valid_task``, indexed by customer."""
    from recft_utils.evaluation import evaluate

    frame = evaluate(model, valid_task, views=("discovery",), k=k)["discovery"]
    return frame.set_index("user_id")["ndcg"]


def _compare(model: pd.Series, cheaper: pd.Series, samples: int, seed: int) -> dict:
    paired = pd.concat({"model": model, "cheaper": cheaper}, axis=1, join="inner")
    if paired.empty:
        raise ParameterError("Serving candidates share no validation customer: evaluate them on the same task.")
    return paired_difference(paired["model"].to_numpy(), paired["cheaper"].to_numpy(), samples, seed=seed)


def serving_table(candidates: list[ServingCandidate], samples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per candidate, cheapest first: its validation score, the cheaper candidate it beats by
    the least (``against``, with the paired ``difference`` and its interval ``low``/``high``),
    ``eligible`` and ``served``."""
    keys = [c.key for c in candidates]
    unknown = [key for key in keys if key not in CANDIDATE_ORDER]
    if unknown or len(set(keys)) != len(keys) or not candidates:
        raise ParameterError(f"Serving candidates are distinct keys of {CANDIDATE_ORDER}; got {keys}.")
    ordered = sorted(candidates, key=lambda c: CANDIDATE_ORDER.index(c.key))
    rows = []
    for position, candidate in enumerate(ordered):
        row = {
            "key": candidate.key,
            "model": candidate.model,
            "family": candidate.family,
            "valid_ndcg@10": float(candidate.scores.mean()),
            "n_users": int(candidate.scores.size),
            "against": None,
            "difference": float("nan"),
            "low": float("nan"),
            "high": float("nan"),
            "eligible": True,
        }
        comparisons = [
            (cheaper.model, _compare(candidate.scores, cheaper.scores, samples, seed)) for cheaper in ordered[:position]
        ]
        if comparisons:
            against, worst = min(comparisons, key=lambda pair: pair[1]["low"])
            row.update(
                against=against,
                difference=worst["difference"],
                low=worst["low"],
                high=worst["high"],
                eligible=all(result["low"] > 0 for _, result in comparisons),
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    served = table.index[table["eligible"]][-1]
    return table.assign(served=table.index == served)


def choose_served_model(
    candidates: list[ServingCandidate], samples: int = 1000, seed: int = 0
) -> tuple[str, pd.DataFrame]:
    """Apply :data:`SERVING_RULE`: the chosen candidate's key and :func:`serving_table`."""
    table = serving_table(candidates, samples, seed)
    return str(table.loc[table["served"], "key"].iloc[0]), table


def served_from_table(candidates: list[dict]) -> str:
    """The key the rule serves, re-read from a saved :func:`serving_table` (``served_choice.json``'s
    ``candidates``): the last eligible row, cheapest first. Step 4 checks it against step 3's choice."""
    table = pd.DataFrame(candidates)
    table = table.assign(order=table["key"].map(CANDIDATE_ORDER.index)).sort_values("order")
    eligible = table[(pd.to_numeric(table["low"]) > 0) | table["against"].isna()]
    return str(eligible["key"].iloc[-1])


def serving_records(table: pd.DataFrame) -> list[dict]:
    """:func:`serving_table` as JSON records (a missing interval as ``null``, not ``NaN``)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def serving_sentence(table: pd.DataFrame) -> str:
    """What the rule chose and why, in one sentence generated from :func:`serving_table`."""
    served = table[table["served"]].iloc[0]
    costlier = table[table.index > served.name]
    why = (
        "the cheapest candidate"
        if pd.isna(served["against"])
        else f"against {served['against']}, the cheaper candidate it beats by the least, {served['difference']:+.4f} "
        f"({served['low']:+.4f} to {served['high']:+.4f})"
    )
    text = f"Step 4 serves {served['model']} (validation discovery NDCG@10 {served['valid_ndcg@10']:.4f}; {why})."
    if len(costlier):
        refused = "; ".join(
            f"{row['model']} {row['difference']:+.4f} ({row['low']:+.4f} to {row['high']:+.4f}) "
            f"against {row['against']}"
            for _, row in costlier.iterrows()
        )
        text += f" Costlier candidates without a margin over every cheaper one: {refused}."
    return text


def two_tower_regime(key: str) -> str:
    """The regime of the two-tower model step 3 saves when the rule serves ``key``: its own for a
    fine-tuned encoder; otherwise the frozen one (served alone, inside the blend, or at weight 0)."""
    return key if key in FINE_TUNED else "frozen"


def served_blend(served_choice: dict) -> dict | None:
    """The blend step 4 serves, from step 3's ``served_choice.json``: the classical bar's settings, the
    two-tower's weight (0 when the classical bar alone is served) and the name; None for a two-tower alone."""
    if served_choice["regime"] not in ("classical", "blend"):
        return None
    weight = served_choice["blend_weight"] if served_choice["regime"] == "blend" else 0.0
    return {"classical": served_choice["classical"], "weight": weight, "model": served_choice["model"]}
