"""Champion or challenger? A promotion rule based on a paired significance test, not a raw difference.

Both models rank the same validation window; each customer gives a pair of
scores (e.g. discovery NDCG@10). The challenger replaces the champion only
when a one-sided Wilcoxon signed-rank test says it is better with
p < ``alpha`` *and* its mean gain reaches ``min_gain``: a difference that
luck could explain keeps the champion. With several challengers (from scratch
and warm-started), :func:`choose_challenger` tests each and corrects for
testing more than one (:func:`holm_passing`).
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from recft_utils.errors import ParameterError


def discovery_scores(model, task) -> pd.DataFrame:
    """Per-customer discovery NDCG@10 (``user_id``, ``ndcg``) of a fitted model: what the rule compares."""
    from recft_utils.evaluation import evaluate

    return evaluate(model, task, views=("discovery",))["discovery"][["user_id", "ndcg"]]


def choose_challenger(
    champion: pd.DataFrame,
    challengers: dict[str, pd.DataFrame],
    metric: str = "ndcg",
    alpha: float = 0.05,
    min_gain: float = 0.0,
) -> dict:
    """Judge several challengers against one champion; promote the best of those that pass.

    Each challenger gets :func:`promotion_decision`'s test. Testing more than one at the same ``alpha``
    would raise the chance that luck promotes one, so the p-values go through **Holm's** step-down
    correction: the smallest must be below ``alpha / m``, the next below ``alpha / (m - 1)``, and so on,
    stopping at the first that fails. Among those that pass (and reach ``min_gain``), the one with the
    highest mean is promoted. Returns that challenger's decision (``challenger``: its name, or None when
    the champion stays), the figures of ``best`` (the promoted one, else the best-scoring one) and every
    test under ``tests``.
    """
    if not challengers:
        raise ParameterError("choose_challenger needs at least one challenger.")
    tests = {
        name: promotion_decision(champion, scores, metric, alpha=1.0, min_gain=min_gain)
        for name, scores in challengers.items()
    }
    passed, thresholds = holm_passing(tests, alpha, min_gain)
    for name, test in tests.items():  # each test's own verdict is the corrected one, not alpha = 1's
        test.pop("reason")
        test |= {"alpha": alpha, "holm_alpha": thresholds[name], "decision": "promote" if name in passed else "keep"}
    best = max(passed or tests, key=lambda name: tests[name]["challenger_mean"])
    chosen = tests[best]
    figures = {
        key: chosen[key] for key in ("customers", "champion_mean", "challenger_mean", "gain", "p_value", "metric")
    }
    summary = {**figures, "alpha": alpha, "min_gain": min_gain, "tests": tests, "best": best}
    m = len(tests)
    if passed:
        reason = (
            f"{best} better: mean {metric} {chosen['gain']:+.4f}, one-sided Wilcoxon p = {chosen['p_value']:.3g}"
            f" < {chosen['holm_alpha']:.3g} (alpha {alpha}, Holm-corrected for {m} challengers)"
        )
        return {**summary, "decision": "promote", "challenger": best, "reason": reason}
    reasons = "; ".join(f"{name}: p = {test['p_value']:.3g}, gain {test['gain']:+.4f}" for name, test in tests.items())
    return {
        **summary,
        "decision": "keep",
        "challenger": None,
        "reason": f"no challenger passes (alpha {alpha}, Holm-corrected for {m}): {reasons}",
    }


def holm_passing(tests: dict[str, dict], alpha: float = 0.05, min_gain: float = 0.0) -> tuple[list[str], dict]:
    """Holm's step-down rule on recorded tests (``{name: {"p_value", "gain", ...}}``).

    The smallest p-value must be below ``alpha / m``, the next below ``alpha / (m - 1)``, and so on,
    stopping at the first that fails; of those below their threshold, the ones whose gain reaches
    ``min_gain`` pass. Returns the passing names and each test's threshold. Re-applying this to
    ``decisions.json`` with another ``alpha`` or ``min_gain`` is what 06's first exercise does.
    """
    order = sorted(tests, key=lambda name: tests[name]["p_value"])
    thresholds = {name: alpha / (len(order) - rank) for rank, name in enumerate(order)}
    passed = []
    for name in order:
        if tests[name]["p_value"] >= thresholds[name]:
            break
        passed.append(name)
    return [name for name in passed if tests[name]["gain"] >= min_gain], thresholds


def promotion_decision(
    champion: pd.DataFrame, challenger: pd.DataFrame, metric: str = "ndcg", alpha: float = 0.05, min_gain: float = 0.0
) -> dict:
    """Compare per-customer ``metric`` of two models (frames with ``user_id``) on the same customers.

    Returns the decision (``promote`` or ``keep``), its reason, the p-value,
    both means, the gain and the number of paired customers.
    """
    for name, frame in (("champion", champion), ("challenger", challenger)):
        if not {"user_id", metric} <= set(frame.columns):
            raise ParameterError(
                f"The {name}'s scores need the columns user_id and {metric}; got {list(frame.columns)}."
            )
    paired = champion.set_index("user_id")[[metric]].join(
        challenger.set_index("user_id")[[metric]], how="inner", lsuffix="_champion", rsuffix="_challenger"
    )
    a, b = paired[f"{metric}_champion"].to_numpy(), paired[f"{metric}_challenger"].to_numpy()
    gain = float(b.mean() - a.mean()) if len(paired) else 0.0
    out = {
        "customers": len(paired),
        "champion_mean": float(a.mean()) if len(a) else float("nan"),
        "challenger_mean": float(b.mean()) if len(b) else float("nan"),
        "gain": gain,
        "alpha": alpha,
        "min_gain": min_gain,
        "metric": metric,
    }
    if len(paired) == 0 or (a == b).all():
        return {**out, "p_value": 1.0, "decision": "keep", "reason": "the two models rank these customers alike"}
    p_value = float(stats.wilcoxon(b, a, alternative="greater", zero_method="wilcox").pvalue)
    if p_value < alpha and gain >= min_gain:
        reason = f"challenger better: mean {metric} {gain:+.4f}, one-sided Wilcoxon p = {p_value:.3g} < {alpha}"
        return {**out, "p_value": p_value, "decision": "promote", "reason": reason}
    why = (
        f"p = {p_value:.3g} ≥ {alpha}: the difference ({gain:+.4f}) could be luck"
        if p_value >= alpha
        else f"gain {gain:+.4f} below the minimum {min_gain}"
    )
    return {**out, "p_value": p_value, "decision": "keep", "reason": why}
