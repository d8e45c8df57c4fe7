"""Rolling-origin evaluation: the protocol repeated on successive test windows, then pooled.

One 30-day test window holds a few dozen new products and a few hundred of
their buyers, and which model wins can flip from one window to the next. A
rolling origin (Tashman, 2000) repeats the whole protocol with the data cut
earlier each time: window 1 is the latest test window, window 2 is the one
that ends where window 1 starts, and so on. Each window has its own
validation window just before it, and every choice is remade on it.

Results are compared per customer: a customer evaluated in two windows
counts twice (once per window), and a paired difference keeps a customer's
two scores together, so its interval is far narrower than the gap between
two models' separate intervals suggests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.evaluation.metrics import paired_difference, two_way_interval
from recft_utils.evaluation.split import TemporalSplit, end_data, temporal_split


@dataclass(frozen=True)
class Origin:
    """One test window of a rolling origin: its number (1 = the latest), data cut and split."""

    number: int
    data_end: str  # "" for the whole data set
    split: TemporalSplit

    def interactions(self, interactions: pd.DataFrame) -> pd.DataFrame:
        return end_data(interactions, self.data_end)


def rolling_origins(
    interactions: pd.DataFrame, windows: int = 3, test_days: int = 30, valid_days: int = 30
) -> list[Origin]:
    """``windows`` successive test windows, latest first, each ending where the previous one starts."""
    if windows < 1:
        raise ParameterError(f"A rolling origin needs at least one window, got windows={windows}.")
    origins, data_end = [], ""
    for number in range(1, windows + 1):
        split = temporal_split(end_data(interactions, data_end), test_days, valid_days)
        origins.append(Origin(number, data_end, split))
        data_end = str(split.test_start.date())
    return origins


def per_user_scores(per_user: dict, model: str, family: str, seed: int, window: int) -> pd.DataFrame:
    """:func:`~recft_utils.evaluation.evaluate`'s per-customer NDCG as one long table."""
    parts = [frame[["user_id", "ndcg"]].assign(view=view) for view, frame in per_user.items() if len(frame)]
    if not parts:
        return pd.DataFrame(columns=["window", "model", "family", "seed", "view", "user_id", "ndcg"])
    return pd.concat(parts, ignore_index=True).assign(window=window, model=model, family=family, seed=seed)


def item_gain_scores(per_user: dict, model: str, family: str, seed: int, window: int) -> pd.DataFrame:
    """The cold view's NDCG split by product (``evaluate``'s ``item_gains``) as one long table."""
    frame = per_user.get("cold")
    gains = frame.attrs.get("item_gains") if frame is not None else None
    columns = ["window", "model", "family", "seed", "view", "user_id", "item_id", "gain"]
    if gains is None or not len(gains):
        return pd.DataFrame(columns=columns)
    return gains.assign(window=window, model=model, family=family, seed=seed, view="cold")[columns]


def _two_way(gains: pd.DataFrame, model: str, baseline: str, windows, samples: int, seed: int) -> dict:
    """The paired difference's interval resampling customers and products (cold view), or NaNs without gains."""
    nan = {"low_two_way": float("nan"), "high_two_way": float("nan")}
    if gains is None or not len(gains):
        return nan
    rows = gains[gains["window"].astype(str).isin([str(w) for w in windows])]
    cells = (
        rows[rows["model"].isin([model, baseline])]
        .groupby(["model", "window", "user_id", "item_id"])["gain"]
        .mean()
        .unstack("model")
    )
    if model not in cells or baseline not in cells:
        return nan
    cells = cells.dropna()
    keys = cells.index.to_frame(index=False)
    users = (keys["window"].astype(str) + "\x1f" + keys["user_id"].astype(str)).to_numpy()
    items = (keys["window"].astype(str) + "\x1f" + keys["item_id"].astype(str)).to_numpy()
    low, high = two_way_interval(users, items, (cells[model] - cells[baseline]).to_numpy(), samples, seed=seed)
    return {"low_two_way": low, "high_two_way": high}


def _view_gains(gains: pd.DataFrame | None, view: str) -> pd.DataFrame | None:
    """The per-product gains of ``view`` (tables without a ``view`` column hold the cold view's)."""
    if gains is None:
        return None
    if "view" not in gains:
        return gains if view == "cold" else None
    return gains[gains["view"] == view]


def decision_interval(row: dict) -> tuple[float, float]:
    """The wider of a paired comparison's intervals: per customer, and (cold view) customers and products."""
    low, high = row["low"], row["high"]
    if pd.notna(row.get("low_two_way")):
        low, high = min(low, row["low_two_way"]), max(high, row["high_two_way"])
    return low, high


def _customer_means(scores: pd.DataFrame, model: str, view: str) -> pd.Series:
    """A model's NDCG per (window, customer), averaged over its seeds."""
    rows = scores[(scores["model"] == model) & (scores["view"] == view)]
    return rows.groupby(["window", "user_id"])["ndcg"].mean()


def paired_comparison(
    scores: pd.DataFrame,
    model: str,
    baseline: str,
    view: str,
    samples: int = 1000,
    seed: int = 0,
    gains: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``model`` minus ``baseline`` per customer, in each window and pooled over windows.

    Both models' per-customer NDCG (mean over seeds) are paired on the
    customers both were evaluated on. One row per window, then ``pooled``:
    mean difference, its 95 % bootstrap interval over customers, the two
    means and the relative change. With ``gains`` (:func:`item_gain_scores`
    tables) a view split by product (the cold view, or another with gains of
    its ``view``) also gets ``low_two_way``/``high_two_way``, an interval
    that resamples products as well (every customer of a window ranks the
    same few dozen new products): decide on :func:`decision_interval`.
    """
    first, second = _customer_means(scores, model, view), _customer_means(scores, baseline, view)
    paired = pd.concat({"model": first, "baseline": second}, axis=1, join="inner")
    if paired.empty:
        raise ParameterError(f"{model!r} and {baseline!r} share no evaluated customer in the {view} view.")
    rows = []
    groups = [(str(w), part) for w, part in paired.groupby(level="window")] + [("pooled", paired)]
    for window, part in groups:
        difference = paired_difference(part["model"].to_numpy(), part["baseline"].to_numpy(), samples, seed=seed)
        windows = part.index.get_level_values("window").unique()
        two_way = _two_way(_view_gains(gains, view), model, baseline, windows, samples, seed)
        rows.append(
            {
                "window": window,
                "view": view,
                "model": model,
                "baseline": baseline,
                "model_ndcg@10": float(part["model"].mean()),
                "baseline_ndcg@10": float(part["baseline"].mean()),
                "relative": float(part["model"].mean() / part["baseline"].mean() - 1)
                if part["baseline"].mean() > 0
                else float("nan"),
                **difference,
                **two_way,
            }
        )
    return pd.DataFrame(rows)


def window_table(scores: pd.DataFrame, view: str) -> pd.DataFrame:
    """Mean NDCG@10 per model (rows) in each window and pooled (columns), for one view."""
    rows = scores[scores["view"] == view]
    per_window = rows.groupby(["model", "window"])["ndcg"].mean().unstack("window")
    per_window.columns = [f"window {w}" for w in per_window.columns]
    # pooled: every (window, customer) once, each the mean over seeds
    pooled = rows.groupby(["model", "window", "user_id"])["ndcg"].mean().groupby("model").mean()
    table = per_window.assign(pooled=pooled)
    order = list(dict.fromkeys(rows["model"]))
    return table.reindex(order)


def best_of_family(scores: pd.DataFrame, family, view: str, exclude=("random",)) -> str | None:
    """The model of ``family`` (a name or a tuple of names) with the highest pooled NDCG@10 in ``view``;
    None when no such model was evaluated in it."""
    families = (family,) if isinstance(family, str) else tuple(family)
    rows = scores[scores["family"].isin(families) & (scores["view"] == view) & ~scores["model"].isin(exclude)]
    if rows.empty:
        return None
    pooled = rows.groupby(["model", "window", "user_id"])["ndcg"].mean().groupby("model").mean()
    return str(pooled.idxmax())


# What a language-model model is judged against, in order: its twin, then the best of each family without one.
AGAINST = ("lexical twin", "best lexical", "best classical")


def _baselines(scores: pd.DataFrame, model: str, view: str, twins: dict) -> dict:
    """``{against: baseline model}`` for one candidate in one view (the ones that were evaluated)."""
    evaluated = set(scores.loc[scores["view"] == view, "model"])
    named = {
        "lexical twin": twins.get(model),
        "best lexical": best_of_family(scores, "lexical", view),
        "best classical": best_of_family(scores, "classical", view),
    }
    return {against: name for against, name in named.items() if name in evaluated}


def pooled_verdict(
    scores: pd.DataFrame,
    candidates: dict,
    samples: int = 1000,
    seed: int = 0,
    target: float = 0.10,
    twins: dict | None = None,
    gains: pd.DataFrame | None = None,
    twin_target: float = 0.05,
) -> pd.DataFrame:
    """Each ``{view: [model, ...]}`` candidate against its lexical twin and the best lexical and classical
    model of that view, pooled over windows and paired per customer.

    ``met`` says whether the pooled relative change reaches the target
    (``twin_target`` against the twin, ``target`` against the best others)
    and the decision interval (:func:`decision_interval`: the wider one in
    the cold view) lies above 0; ``windows_against`` counts the windows whose
    own interval lies entirely below 0 (a window that reverses the verdict).
    """
    rows = []
    for view, models in candidates.items():
        for model in models:
            for against, baseline in _baselines(scores, model, view, twins or {}).items():
                table = paired_comparison(scores, model, baseline, view, samples, seed, gains)
                pooled = table[table["window"] == "pooled"].iloc[0].to_dict()
                windows = table[table["window"] != "pooled"]
                bar = twin_target if against == "lexical twin" else target
                low, _ = decision_interval(pooled)
                rows.append(
                    {
                        **pooled,
                        "against": against,
                        "target": bar,
                        "met": bool(pooled["relative"] >= bar and low > 0),
                        "windows_against": int((windows["high"] < 0).sum()),
                    }
                )
    return pd.DataFrame(rows).drop(columns=["window"])


# What notebook 03 shows of a rolling-origin benchmark: the tables below, no per-customer scores.
REFERENCE_TABLES = ("discovery", "cold", "verdict", "ablation", "fine_tuned")


def reference_document(tables: dict, profile: str, dataset: str, seeds: list, windows: list[dict]) -> dict:
    """A JSON-ready summary of a rolling-origin benchmark (``summary_tables``' output), for the notebooks.

    ``windows``: one ``{"window", "test_start", "test_end"}`` per test window.
    """

    def records(frame: pd.DataFrame, index: bool = False) -> list[dict]:
        frame = frame.reset_index() if index else frame
        return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")

    return {
        "profile": profile,
        "dataset": dataset,
        "seeds": list(seeds),
        "windows": windows,
        "discovery": records(tables["windows"]["discovery"].rename_axis("model"), index=True),
        "cold": records(tables["windows"]["cold"].dropna(how="all").rename_axis("model"), index=True),
        "verdict": records(tables["verdict"]),
        "ablation": records(tables["ablation"]),
        "fine_tuned": records(tables["fine_tuned"]),
    }


def read_reference(path) -> dict | None:
    """A :func:`reference_document` written to ``path`` as JSON, its tables as DataFrames; None if absent."""
    path = Path(path)
    if not path.is_file():
        return None
    document = json.loads(path.read_text())
    missing = [key for key in (*REFERENCE_TABLES, "profile", "dataset", "windows") if key not in document]
    if missing:
        raise ParameterError(
            f"{path} is not a rolling-origin summary (missing {', '.join(missing)}); "
            f"write it again with `python scripts/readme_tables.py runs/benchmarks/rolling.json`."
        )
    tables = {key: pd.DataFrame(document[key]) for key in REFERENCE_TABLES}
    for view in ("discovery", "cold"):
        table = tables[view].set_index("model")
        tables[view] = table[sorted(c for c in table.columns if c != "pooled") + ["pooled"]]
    return {**document, **tables}


# What each ablation removes, as the sentence names it.
ABLATED_PART = {
    "without popularity prior": "the popularity prior",
    "without text (IDs only)": "the text",
    "without IDs (text only)": "the item IDs",
}


def _interval(row: dict) -> str:
    low, high = decision_interval(row)
    verdict = "" if low > 0 or high < 0 else ", not distinguishable from 0"
    return f"{row['difference' if 'difference' in row else 'contribution']:+.4f} ({low:+.4f} to {high:+.4f}{verdict})"


def signal_summary(reference: dict) -> list[str]:
    """Sentences on which signal does the work, from a :func:`read_reference` summary: one per view
    for the ablations, and one for the fine-tuned encoder against the frozen one, pooled."""
    lines = []
    for view, rows in reference["ablation"].groupby("view", sort=False):
        rows = rows.sort_values("contribution", ascending=False).to_dict(orient="records")
        parts = [f"{ABLATED_PART.get(r['ablation'], r['ablation'])} {_interval(r)}" for r in rows]
        lines.append(f"{view}, what each part of the best text model adds: " + "; ".join(parts) + " NDCG@10.")
    if len(reference["fine_tuned"]):
        lines.append(paired_sentence(reference["fine_tuned"]))
    return lines


def verdict_sentences(verdict: pd.DataFrame) -> list[str]:
    """One sentence per view from a :func:`pooled_verdict` table: the best language-model model against
    its lexical twin, and against the strongest model without a language model (lexical or classical)."""
    lines = []
    for view, rows in verdict.groupby("view", sort=False):
        twins = rows[rows["against"] == "lexical twin"]
        others = rows[rows["against"] != "lexical twin"]
        strongest = others.loc[others["baseline_ndcg@10"].idxmax(), "baseline"] if len(others) else None
        versus = others[others["baseline"] == strongest]
        best = versus.loc[versus["model_ndcg@10"].idxmax()] if len(versus) else rows.loc[rows["model_ndcg@10"].idxmax()]
        parts = []
        twin = twins[twins["model"] == best["model"]]
        if len(twin):
            row = twin.iloc[0]
            parts.append(
                f"against its lexical twin ({row['baseline']}) {row['relative']:+.1%}, {_interval(row.to_dict())}"
            )
        if len(versus):
            parts.append(
                f"against the strongest model without a language model ({best['baseline']}) "
                f"{best['relative']:+.1%}, {_interval(best.to_dict())}"
            )
        lines.append(
            f"{view}: the best language-model model, {best['model']} ({best['model_ndcg@10']:.3f}), "
            + "; ".join(parts)
            + " NDCG@10."
        )
    return lines


def paired_sentence(paired: pd.DataFrame) -> str:
    """One sentence from a :func:`paired_comparison` table: the pooled difference of its model, per view."""
    pooled = paired[paired["window"].astype(str) == "pooled"].to_dict(orient="records")
    return (
        f"{pooled[0]['model']} against {pooled[0]['baseline']}, same heads: "
        + "; ".join(f"{r['view']} {_interval(r)}" for r in pooled)
        + " NDCG@10."
    )


def tried_adaptations(
    serving: pd.DataFrame, frozen_valid: float, reference: dict | None = None, top_k: dict | None = None
) -> pd.DataFrame:
    """What was tried to make adapting the encoder pay, each against the frozen encoder under the same heads:
    this run's fine-tuned regimes on the validation window (``serving``, :func:`~recft_utils.models.
    serving_choice.choose_served_model`'s table; ``frozen_valid`` the frozen model's score there), and, when
    given, the rolling benchmark's adapted encoder (``reference``) and its step-budgeted top layer
    (``top_k``, the committed ``rolling_top_k.json``), pooled over their windows with paired intervals."""
    tried = serving[serving["family"] == "text-fine-tuned"].assign(
        where="this run, validation window", view="discovery", difference=lambda t: t["valid_ndcg@10"] - frozen_valid
    )
    parts = [tried[["model", "where", "view", "difference"]]]
    if reference is not None:
        parts.append(
            reference["fine_tuned"]
            .query("window == 'pooled'")
            .assign(where=f"benchmark, {len(reference['windows'])} test windows pooled")
        )
    if top_k is not None:
        parts.append(
            pd.DataFrame(top_k["paired"])
            .query("window == 'pooled'")
            .assign(where=f"benchmark, {len(top_k['steps'])} test windows pooled, steps chosen on validation")
        )
    columns = ["model", "where", "view", "difference", "low", "high"]
    return pd.concat([p.reindex(columns=columns) for p in parts], ignore_index=True)
