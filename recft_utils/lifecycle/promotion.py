"""Champion or challenger? A promotion rule based on a paired significance test, not a raw difference.

Both models rank the same validation window; each customer gives a pair of
scores (e.g. discovery NDCG@10). The challenger replaces the champion only
when a one-sided Wilcoxon signed-rank test says it is better with
p < ``alpha`` *and* its mean gain reaches ``min_gain``: a difference that
luck could explain keeps the champion.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from recft_utils.errors import ParameterError


def discovery_scores(model, task) -> pd.DataFrame:
    """Per-customer discovery NDCG@10 (``user_id``, ``ndcg``) of a fitted model: what the rule compares."""
    from recft_utils.evaluation import evaluate

    return evaluate(model, task, views=("discovery",))["discovery"][["user_id", "ndcg"]]


def promotion_decision(champion: pd.DataFrame, challenger: pd.DataFrame, metric: str = "ndcg",
                       alpha: float = 0.05, min_gain: float = 0.0) -> dict:
    """Compare per-customer ``metric`` of two models (frames with ``user_id``) on the same customers.

    Returns the decision (``promote`` or ``keep``), its reason, the p-value,
    both means, the gain and the number of paired customers.
    """
    for name, frame in (("champion", champion), ("challenger", challenger)):
        if not {"user_id", metric} <= set(frame.columns):
            raise ParameterError(f"The {name}'s scores need the columns user_id and {metric}; got {list(frame.columns)}.")
    paired = champion.set_index("user_id")[[metric]].join(
        challenger.set_index("user_id")[[metric]], how="inner", lsuffix="_champion", rsuffix="_challenger")
    a, b = paired[f"{metric}_champion"].to_numpy(), paired[f"{metric}_challenger"].to_numpy()
    gain = float(b.mean() - a.mean()) if len(paired) else 0.0
    out = {"customers": len(paired), "champion_mean": float(a.mean()) if len(a) else float("nan"),
           "challenger_mean": float(b.mean()) if len(b) else float("nan"), "gain": gain, "alpha": alpha,
           "min_gain": min_gain, "metric": metric}
    if len(paired) == 0 or (a == b).all():
        return {**out, "p_value": 1.0, "decision": "keep", "reason": "the two models rank these customers alike"}
    p_value = float(stats.wilcoxon(b, a, alternative="greater", zero_method="wilcox").pvalue)
    if p_value < alpha and gain >= min_gain:
        reason = f"challenger better: mean {metric} {gain:+.4f}, one-sided Wilcoxon p = {p_value:.3g} < {alpha}"
        return {**out, "p_value": p_value, "decision": "promote", "reason": reason}
    why = (f"p = {p_value:.3g} ≥ {alpha}: the difference ({gain:+.4f}) could be luck" if p_value >= alpha
           else f"gain {gain:+.4f} below the minimum {min_gain}")
    return {**out, "p_value": p_value, "decision": "keep", "reason": why}
