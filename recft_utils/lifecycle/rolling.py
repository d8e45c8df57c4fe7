"""Living through the year: monthly retraining, drift, and a champion that changes only when beaten.

At each month boundary ``b`` of the simulation:

1. the **challengers** train on everything before ``b - valid_days``: one from scratch, one warm-started
   from the champion (fewer epochs);
2. the **champion** (last month's model, carried over to the new catalogue without training) and both
   challengers are compared on the validation days just before ``b``, customer by customer;
   :func:`~recft_utils.lifecycle.promotion.choose_challenger` decides (Holm-corrected tests, the
   better passing challenger promoted), and the decision is recorded;
3. every model is then scored on the month that follows ``b`` (the champion *in force* serves it), and
   the month's **drift** against the training data is measured.

The first month has no champion: the scratch model is promoted without a test.
"""

from __future__ import annotations

import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.evaluation import build_task
from recft_utils.evaluation.split import TemporalSplit
from recft_utils.lifecycle.challengers import judge_challengers, train_challengers
from recft_utils.lifecycle.promotion import discovery_scores
from recft_utils.models.two_tower import TwoTowerConfig
from recft_utils.monitoring.drift import drift_report

# A simulated month is scored on its data: one with fewer days (the extract's last, cut short) is skipped.
MIN_MONTH_DAYS = 7


def iterated_model_note(served_choice: dict) -> str:
    """Which model step 6 retrains, against the one step 4 serves (step 3's ``served_choice.json``)."""
    regime, model = served_choice["regime"], served_choice["model"]
    if regime == "frozen":
        return (
            f"Step 4 serves {model}, and this chapter retrains that model: the two-tower "
            f"head on the frozen encoder's item vectors, with step 3's settings."
        )
    if regime in ("classical", "blend"):
        part = (
            "its two-tower part"
            if regime == "blend"
            else "the two-tower (which the served model gives weight 0: it changes nothing served)"
        )
        return (
            f"Step 4 serves {model}. This chapter's simulation retrains {part}, the head on the frozen "
            f"encoder's item vectors with step 3's settings, and judges it alone; EASE + recent popularity "
            f"has no weights to warm-start or promote: it is refitted in closed form at every export. "
            f"`recft retrain` (section 4) judges and exports every version as the served model itself."
        )
    validation = served_choice["validation"]
    gain = validation[regime] - validation["frozen"]
    return (
        f"Step 4 serves {model} ({regime.replace('_', '-')} fine-tuning). This chapter "
        f"retrains the two-tower head on the frozen encoder's item vectors instead: a monthly fine-tune "
        f"would add the encoder's passes over the catalogue to every retrain, for a validation gain of "
        f"{gain:+.4f} NDCG@10 in step 3. The versions promoted here are therefore frozen-encoder models, "
        f"and step 5's model card describes the exported fine-tuned one, not them."
    )


def last_months(interactions: pd.DataFrame, count: int, valid_days: int = 14) -> list[str]:
    """The first days of the data's last ``count`` months (ISO dates, oldest first), from the data itself.

    A month counts when it has at least :data:`MIN_MONTH_DAYS` days of data and
    its validation days (the ``valid_days`` before it) lie within the data; a
    profile's ``iteration_months`` says how many. Raises a
    :class:`~recft_utils.errors.ParameterError` when the data spans too few.
    """
    first, last = interactions["timestamp"].min(), interactions["timestamp"].max()
    start = (last - pd.Timedelta(days=MIN_MONTH_DAYS)).to_period("M").to_timestamp()
    months = []
    while len(months) < count and start - pd.Timedelta(days=valid_days) > first:
        months.insert(0, start)
        start -= pd.offsets.MonthBegin(1)
    if len(months) < count:
        raise ParameterError(
            f"The data ({first.date()} to {last.date()}) holds {len(months)} month(s) with {valid_days} days of "
            f"history before them, but {count} are simulated: pass fewer with -p months "
            f'"YYYY-MM-01,..." or use a profile with fewer iteration_months.'
        )
    return [str(m.date()) for m in months]


def short_months(interactions: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    """The simulated months that the data covers only in part (the extract ends, or starts, inside them):
    ``month`` (YYYY-MM), ``days`` covered, ``of`` the month's days, ``orders``."""
    first, last = interactions["timestamp"].min().normalize(), interactions["timestamp"].max().normalize()
    rows = []
    for month in months:
        start = pd.Timestamp(month)
        end = start + pd.offsets.MonthBegin(1)
        covered = (min(end - pd.Timedelta(days=1), last) - max(start, first)).days + 1
        if covered < (end - start).days:
            inside = interactions["timestamp"].between(start, end, inclusive="left")
            rows.append(
                {
                    "month": f"{start:%Y-%m}",
                    "days": covered,
                    "of": (end - start).days,
                    "orders": interactions.loc[inside, "order_id"].nunique(),
                }
            )
    return pd.DataFrame(rows, columns=["month", "days", "of", "orders"])


def short_month_note(interactions: pd.DataFrame, months: list[str]) -> str:
    """A sentence on each simulated month the data covers only in part, or "" when every month is whole: a
    short month's scores rest on fewer orders, and a drop there is no trend."""
    short = short_months(interactions, months)
    if short.empty:
        return ""
    last = interactions["timestamp"].max().date()
    notes = [
        f"{row.month} holds {row.days} of its {row.of} days ({row.orders:,} orders; the data ends on {last})"
        for row in short.itertuples()
    ]
    return (
        "Short month: " + "; ".join(notes) + ". Its scores rest on fewer orders and customers than a whole "
        "month's, so a drop or a gain there is weak evidence, not a trend."
    )


def month_windows(interactions: pd.DataFrame, months: list[str], valid_days: int = 14) -> list[TemporalSplit]:
    """One split per simulated month: validation = the ``valid_days`` before it, test = the month."""
    end = interactions["timestamp"].max() + pd.Timedelta(seconds=1)
    starts = [pd.Timestamp(m) for m in months]
    return [
        TemporalSplit(start - pd.Timedelta(days=valid_days), start, min(start + pd.offsets.MonthBegin(1), end))
        for start in starts
    ]


def simulate(
    interactions: pd.DataFrame,
    item_vectors: pd.DataFrame,
    config: TwoTowerConfig,
    months: list[str],
    epochs: int,
    warm_epochs: int,
    valid_days: int = 14,
    seed: int = 0,
    alpha: float = 0.05,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[dict]]:
    """Run the simulation; returns one row per month and model (NDCG@10 discovery on the month, training
    seconds, drift measures) and the promotion decisions, in order."""
    from tqdm import tqdm

    champion, rows, decisions = None, [], []
    for split in tqdm(month_windows(interactions, months, valid_days), desc="months", disable=not progress):
        valid, test = build_task(interactions, split, "valid"), build_task(interactions, split, "test")
        month = str(split.test_start.date())[:7]
        trained = train_challengers(item_vectors, config, valid, champion, epochs, warm_epochs, seed)
        if champion is None:
            decision = {
                "decision": "promote",
                "challenger": "scratch",
                "reason": "first model: nothing to compare with",
                "p_value": None,
            }
            new_champion = trained["scratch"].model
        else:  # both challengers judged, Holm-corrected: the scratch one may be the better
            decision = judge_challengers(champion, trained, valid, alpha)
            new_champion = trained[decision["challenger"]].model if decision["decision"] == "promote" else champion
        decisions.append({"month": month, **decision})
        when = interactions["timestamp"]
        previous = interactions[(when >= split.test_start - pd.DateOffset(months=1)) & (when < split.test_start)]
        drift = drift_report(test.history, previous, test.target, item_vectors)
        models = {name: (c.model, c.seconds) for name, c in trained.items()}
        if champion is not None:
            models["last month's champion, not retrained"] = (champion, 0.0)
        models["serving (champion after the decision)"] = (new_champion, None)
        for name, (model, seconds) in models.items():
            ndcg = float(discovery_scores(model.like().start_from(test, model), test)["ndcg"].mean())
            rows.append(
                {
                    "month": month,
                    "model": name,
                    "ndcg@10": ndcg,
                    "train_seconds": seconds,
                    "decision": decision["decision"],
                    **{k: v for k, v in drift.items() if k != "alerts"},
                    "alerts": ", ".join(drift["alerts"]),
                }
            )
        champion = new_champion
    return pd.DataFrame(rows), decisions
