"""Classical baselines given every signal the text models get, each tuned on the validation window.

The two-tower model adds each item's recent popularity to its scores. A fair
comparison gives the classical models that prior too, and tunes it as
carefully (Ferrari Dacrema et al., 2019, found many neural gains vanish
against well-tuned simple baselines):

- **EASE + recent popularity**: EASE's and recent popularity's scores,
  standardised per customer and blended; the popularity window and the
  weight are chosen on the validation window's discovery view;
- **title neighbours' popularity** (cold view): a new product scored by the
  recent popularity of its nearest warm products by TF-IDF title similarity;
  neighbours and window chosen on the validation window's cold view;
- **customer titles + title neighbours**: the personalised variant, the
  customer's TF-IDF profile blended with the above, weight chosen the same way;
- the same two with **BM25** in place of TF-IDF, the strongest word-overlap
  weighting for short texts (family ``lexical``, like the TF-IDF ones);
- the **learned lexical ranker** (cold view): those four word-overlap signals weighted by a listwise
  linear model trained on the shop's earlier launch windows (:mod:`.lexical_ranker`), its L2
  chosen on the validation window's cold view.

Every choice sees the validation task only (fitted on the history before
it); the chosen settings are then refitted on the test task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.evaluation import evaluate
from recft_utils.models.baselines import EASE, Popularity, Recommender, TitleNeighbourPopularity, TitleProfile
from recft_utils.models.blend import WEIGHTS, ScoreBlend
from recft_utils.models.lexical_ranker import LEXICAL_RANKER, LexicalRanker

POPULARITY_DAYS = (7, 14, 30)
NEIGHBOURS = (5, 10, 20, 50)
EASE_L2 = 300.0  # the guide's λ, best on validation among 100-1000 for this shop
RANKER_L2 = (0.1, 1.0, 10.0)

EASE_POPULARITY = "EASE + recent popularity"
TITLE_NEIGHBOURS = "title neighbours' popularity (TF-IDF)"
TITLE_PROFILE_BLEND = "customer titles + title neighbours (TF-IDF)"
BM25_NEIGHBOURS = "title neighbours' popularity (BM25)"
BM25_PROFILE_BLEND = "customer titles + title neighbours (BM25)"


@dataclass
class FairBaseline:
    """One tuned baseline: how to build it for a task, the settings chosen and the validation grid.

    ``name`` stays the same whatever the settings, so that results of several
    windows (each with its own choice) pool under one name; ``description``
    adds the settings chosen.
    """

    name: str
    description: str
    view: str  # the view its settings were chosen on
    settings: dict
    grid: pd.DataFrame = field(repr=False)
    build: object = field(repr=False)  # task -> fitted Recommender

    @property
    def settings_text(self) -> str:
        """The chosen settings in a few words, e.g. ``days 7, weight 0.5``."""
        return ", ".join(f"{key} {value:g}" for key, value in self.settings.items())

    def fit(self, task) -> Recommender:
        model = self.build(task)
        model.name = self.name
        return model


def _score(model: Recommender, task, view: str, k: int = 10) -> float:
    """Mean NDCG@k of ``view``; NaN when no customer is left in it (e.g. no new product in the window)."""
    frame = evaluate(model, task, views=(view,), k=k).get(view)
    return float(frame["ndcg"].mean()) if frame is not None and len(frame) else float("nan")


def _best(grid: list[dict]) -> tuple[pd.DataFrame, dict]:
    """The grid as a table and its best row's settings; the first row when the view was empty throughout."""
    table = pd.DataFrame(grid)
    scores = table["valid_ndcg@10"]
    best = table.loc[scores.idxmax() if scores.notna().any() else table.index[0]].to_dict()
    return table, {key: value for key, value in best.items() if key != "valid_ndcg@10"}


def tune_ease_popularity(valid_task, days=POPULARITY_DAYS, weights=WEIGHTS) -> FairBaseline:
    """EASE blended with recent popularity: window and weight chosen on validation discovery NDCG@10.

    Weight 1 is EASE alone and weight 0 popularity alone, so the chosen blend
    is at least as good as either on the validation window.
    """
    ease = EASE(EASE_L2).fit(valid_task)
    grid = []
    for window in days:
        popularity = Popularity(window).fit(valid_task)
        for weight in weights:
            grid.append({"days": window, "weight": weight,
                         "valid_ndcg@10": _score(ScoreBlend(ease, popularity, weight).fit(valid_task),
                                                 valid_task, "discovery")})
    table, best = _best(grid)
    return ease_popularity_from(best, grid=table)


def ease_popularity_from(settings: dict, grid: pd.DataFrame | None = None) -> FairBaseline:
    """EASE + recent popularity with settings chosen before (``days``, ``weight``): no tuning here.

    Step 3 rebuilds step 1's bar this way from :func:`saved_settings`, so both
    steps judge against the same model and step 3 does not tune it again.
    """
    days, weight = int(settings["days"]), float(settings["weight"])
    return FairBaseline(EASE_POPULARITY, f"{EASE_POPULARITY} ({days} d, weight {weight:g})", "discovery",
                        {"days": days, "weight": weight}, pd.DataFrame() if grid is None else grid,
                        lambda task: ease_with_popularity(task, days, weight))


def saved_settings(baselines: pd.DataFrame, name: str) -> dict:
    """The settings step 1 chose for the fair baseline ``name``, from its saved records (``settings``)."""
    saved = baselines.loc[baselines["model"] == name, "settings"].dropna() if "settings" in baselines else ()
    if not len(saved):
        raise ParameterError(f"Step 1's baselines hold no chosen settings for {name!r}: run notebook "
                             f"01_requirements again with this version of recft (or `recft run`), then this step.")
    return json.loads(saved.iloc[0])


def ease_with_popularity(task, days: int, weight: float) -> ScoreBlend:
    """EASE + recent popularity with chosen settings (``days``, EASE's ``weight``), fitted on ``task``."""
    return ScoreBlend(EASE(EASE_L2).fit(task), Popularity(days).fit(task), weight, name=EASE_POPULARITY).fit(task)


def tune_title_neighbours(valid_task, titles: pd.Series, neighbours=NEIGHBOURS, days=POPULARITY_DAYS,
                          weighting="tfidf", name: str = TITLE_NEIGHBOURS) -> FairBaseline:
    """Title neighbours' recent popularity: neighbours and window chosen on validation cold NDCG@10.

    ``weighting``: how titles are compared (see :func:`~recft_utils.models.baselines.title_side`).
    """
    grid = [{"neighbours": n, "days": window,
             "valid_ndcg@10": _score(TitleNeighbourPopularity(titles, n, window, weighting).fit(valid_task),
                                     valid_task, "cold")}
            for n in neighbours for window in days]
    table, best = _best(grid)
    n, window = int(best["neighbours"]), int(best["days"])
    return FairBaseline(name, f"{name} ({n} neighbours, {window} d)", "cold",
                        {"neighbours": n, "days": window}, table,
                        lambda task: TitleNeighbourPopularity(titles, n, window, weighting).fit(task))


def tune_title_profile(valid_task, titles: pd.Series, neighbours: FairBaseline, weights=WEIGHTS,
                       weighting="tfidf", name: str = TITLE_PROFILE_BLEND) -> FairBaseline:
    """The customer's title profile blended with ``neighbours``: weight chosen on validation cold NDCG@10."""
    profile = TitleProfile(titles, weighting).fit(valid_task)
    popularity = neighbours.build(valid_task)
    grid = [{"weight": weight,
             "valid_ndcg@10": _score(ScoreBlend(profile, popularity, weight).fit(valid_task), valid_task, "cold")}
            for weight in weights]
    table, best = _best(grid)
    weight = float(best["weight"])

    def build(task):
        return ScoreBlend(TitleProfile(titles, weighting).fit(task), neighbours.build(task), weight).fit(task)

    return FairBaseline(name, f"{name} (weight {weight:g})", "cold", {"weight": weight}, table, build)


def tune_title_models(valid_task, titles: pd.Series, weighting, neighbours_name: str,
                      profile_name: str) -> list[FairBaseline]:
    """Title neighbours' popularity and its personalised variant for one title representation, tuned."""
    neighbours = tune_title_neighbours(valid_task, titles, weighting=weighting, name=neighbours_name)
    return [neighbours, tune_title_profile(valid_task, titles, neighbours, weighting=weighting, name=profile_name)]


def tune_lexical_ranker(valid_task, titles: pd.Series, l2s=RANKER_L2) -> FairBaseline:
    """The learned lexical ranker: its L2 chosen on validation cold NDCG@10 (its weights are learned on the
    launch windows before the validation window, and again before the test window when refitted)."""
    grid = [{"l2": l2, "valid_ndcg@10": _score(LexicalRanker(titles, l2).fit(valid_task), valid_task, "cold")}
            for l2 in l2s]
    table, best = _best(grid)
    l2 = float(best["l2"])
    return FairBaseline(LEXICAL_RANKER, f"{LEXICAL_RANKER} (L2 {l2:g})", "cold", {"l2": l2}, table,
                        lambda task: LexicalRanker(titles, l2).fit(task))


def tune_fair_baselines(valid_task, titles: pd.Series, bm25: bool = True, ranker: bool = True) -> list[FairBaseline]:
    """Every fair baseline, tuned on ``valid_task`` (the validation window) only.

    EASE + recent popularity first, then the TF-IDF title models, then (with
    ``bm25``) the BM25 ones, then (with ``ranker``) the learned lexical ranker.
    """
    fair = [tune_ease_popularity(valid_task),
            *tune_title_models(valid_task, titles, "tfidf", TITLE_NEIGHBOURS, TITLE_PROFILE_BLEND)]
    if bm25:
        fair += tune_title_models(valid_task, titles, "bm25", BM25_NEIGHBOURS, BM25_PROFILE_BLEND)
    if ranker:
        fair.append(tune_lexical_ranker(valid_task, titles))
    return fair


def choices_table(baselines: list[FairBaseline]) -> pd.DataFrame:
    """One row per tuned baseline: the view it was tuned on, its settings and their validation NDCG@10."""
    return pd.DataFrame([{"baseline": b.name, "chosen": b.description, "tuned on": f"validation, {b.view}",
                          **b.settings,
                          "valid_ndcg@10": float(b.grid["valid_ndcg@10"].max())} for b in baselines])
