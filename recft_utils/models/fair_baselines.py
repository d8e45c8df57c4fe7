"""Classical baselines given every signal the text models get, each tuned on the validation window.

The two-tower model adds each item's recent popularity to its scores. A fair
comparison gives the classical models that prior too, and tunes it as
carefully (Ferrari Dacrema et al., 2019, found many neural gains vanish
against well-tuned simple baselines):

- **EASE + recent popularity**: EASE's and recent popularity's scores,
  standardised per customer and blended; the popularity window and the
  weight are chosen on the validation window's discovery view. On a catalogue
  too large for dense EASE, the item-to-item model step 1 chose
  (:func:`~recft_utils.models.item_to_item.choose_item_model`) takes its
  place: **ItemKNN + recent popularity**, tuned the same way;
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
from recft_utils.evaluation.protocol import evaluate_many
from recft_utils.models.baselines import Popularity, TitleNeighbourPopularity, TitleProfile
from recft_utils.models.blend import WEIGHTS, PartScores, ScoreBlend, weight_grid
from recft_utils.models.item_to_item import ItemModelChoice, build_item_model
from recft_utils.models.lexical_ranker import LEXICAL_RANKER, LexicalRanker
from recft_utils.models.recommender import Recommender

POPULARITY_DAYS = (7, 14, 30)
NEIGHBOURS = (5, 10, 20, 50)
RANKER_L2 = (0.1, 1.0, 10.0)

BAR_SUFFIX = " + recent popularity"  # the classical bar is "<item-to-item model> + recent popularity"
EASE_POPULARITY = "EASE" + BAR_SUFFIX
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
        return ", ".join(f"{key} {value:g}" for key, value in self.numbers.items())

    @property
    def numbers(self) -> dict:
        """The tuned settings (numbers; the item-to-item model's name and precision left out)."""
        return {key: value for key, value in self.settings.items() if not isinstance(value, str)}

    def fit(self, task) -> Recommender:
        model = self.build(task)
        model.name = self.name
        return model


def _score(model: Recommender, task, view: str, k: int = 10) -> float:
    """Mean NDCG@k of ``view``; NaN when no customer is left in it (e.g. no new product in the window)."""
    return _scores([model], task, view, k)[0]


def _scores(models: list[Recommender], task, view: str, k: int = 10) -> list[float]:
    """:func:`_score` of several models, evaluated together (blends sharing parts score them once)."""
    frames = [per_user.get(view) for per_user in evaluate_many(models, task, views=(view,), k=k)]
    return [float(frame["ndcg"].mean()) if frame is not None and len(frame) else float("nan") for frame in frames]


def _best(grid: list[dict]) -> tuple[pd.DataFrame, dict]:
    """The grid as a table and its best row's settings; the first row when the view was empty throughout."""
    table = pd.DataFrame(grid)
    scores = table["valid_ndcg@10"]
    best = table.loc[scores.idxmax() if scores.notna().any() else table.index[0]].to_dict()
    return table, {key: value for key, value in best.items() if key != "valid_ndcg@10"}


def bar_name(item_model: str = "EASE") -> str:
    """The classical bar's name for an item-to-item model: ``EASE + recent popularity`` ..."""
    return item_model + BAR_SUFFIX


def tune_classical_bar(
    valid_task, item_model: ItemModelChoice | None = None, days=POPULARITY_DAYS, weights=WEIGHTS
) -> FairBaseline:
    """The item-to-item model blended with recent popularity: window and weight chosen on validation
    discovery NDCG@10.

    ``item_model``: step 1's choice (``None``: dense EASE in float64, the guide's bar). Weight 1
    is the item-to-item model alone and weight 0 popularity alone, so the chosen blend is at least
    as good as either on the validation window.
    """
    model = item_model.model if item_model is not None else "EASE"
    dtype = item_model.dtype if item_model is not None else "float64"
    item_to_item = item_model_of({"item_model": model, "dtype": dtype}).fit(valid_task)
    settings = [{"days": window, "weight": weight} for window in days for weight in weights]
    parts = PartScores()  # the item-to-item model is scored once per chunk of customers, not per setting
    popularity = {window: Popularity(window).fit(valid_task) for window in days}
    blends = [
        ScoreBlend(item_to_item, popularity[s["days"]], s["weight"], parts=parts).fit(valid_task) for s in settings
    ]
    grid = [{**s, "valid_ndcg@10": ndcg} for s, ndcg in zip(settings, _scores(blends, valid_task, "discovery"))]
    table, best = _best(grid)
    return classical_bar_from({**best, "item_model": model, "dtype": dtype}, grid=table)


def classical_bar_from(settings: dict, grid: pd.DataFrame | None = None) -> FairBaseline:
    """The classical bar with settings chosen before (``days``, ``weight``, ``item_model``, ``dtype``):
    no tuning here.

    Step 3 rebuilds step 1's bar this way from :func:`saved_bar_settings`, so both steps judge
    against the same model and step 3 does not tune it again. Settings without ``item_model``
    (runs of an older recft) are EASE in float64.
    """
    settings = {
        "days": int(settings["days"]),
        "weight": float(settings["weight"]),
        "item_model": settings.get("item_model", "EASE"),
        "dtype": settings.get("dtype", "float64"),
    }
    name = bar_name(settings["item_model"])
    return FairBaseline(
        name,
        f"{name} ({settings['days']} d, weight {settings['weight']:g})",
        "discovery",
        settings,
        pd.DataFrame() if grid is None else grid,
        lambda task: classical_with_popularity(task, settings),
    )


def saved_settings(baselines: pd.DataFrame, name: str) -> dict:
    """The settings step 1 chose for the fair baseline ``name``, from its saved records (``settings``)."""
    saved = baselines.loc[baselines["model"] == name, "settings"].dropna() if "settings" in baselines else ()
    if not len(saved):
        raise ParameterError(
            f"Step 1's baselines hold no chosen settings for {name!r}: run notebook "
            f"01_requirements again with this version of recft (or `recft run`), then this step."
        )
    return json.loads(saved.iloc[0])


def saved_bar_settings(baselines: pd.DataFrame) -> dict:
    """The classical bar's settings from step 1's records, whichever item-to-item model it uses."""
    names = baselines["model"].astype(str)
    bars = names[names.str.endswith(BAR_SUFFIX)].unique()
    return saved_settings(baselines, bars[0] if len(bars) else EASE_POPULARITY)


def item_model_of(settings: dict) -> Recommender:
    """The unfitted item-to-item model that ``settings`` (of the classical bar) name."""
    return build_item_model(settings.get("item_model", "EASE"), settings.get("dtype", "float64"))


def classical_with_popularity(task, settings: dict) -> ScoreBlend:
    """The classical bar with chosen settings (``days``, the item-to-item model's ``weight``, and
    ``item_model``/``dtype``: EASE in float64 when absent), fitted on ``task``."""
    days, weight = int(settings["days"]), float(settings["weight"])
    return ScoreBlend(
        item_model_of(settings).fit(task),
        Popularity(days).fit(task),
        weight,
        name=bar_name(settings.get("item_model", "EASE")),
    ).fit(task)


def tune_title_neighbours(
    valid_task,
    titles: pd.Series,
    neighbours=NEIGHBOURS,
    days=POPULARITY_DAYS,
    weighting="tfidf",
    name: str = TITLE_NEIGHBOURS,
) -> FairBaseline:
    """Title neighbours' recent popularity: neighbours and window chosen on validation cold NDCG@10.

    ``weighting``: how titles are compared (see :func:`~recft_utils.models.baselines.title_side`).
    """
    settings = [{"neighbours": n, "days": window} for n in neighbours for window in days]
    models = [TitleNeighbourPopularity(titles, s["neighbours"], s["days"], weighting).fit(valid_task) for s in settings]
    grid = [{**s, "valid_ndcg@10": ndcg} for s, ndcg in zip(settings, _scores(models, valid_task, "cold"))]
    table, best = _best(grid)
    n, window = int(best["neighbours"]), int(best["days"])
    return FairBaseline(
        name,
        f"{name} ({n} neighbours, {window} d)",
        "cold",
        {"neighbours": n, "days": window},
        table,
        lambda task: TitleNeighbourPopularity(titles, n, window, weighting).fit(task),
    )


def tune_title_profile(
    valid_task,
    titles: pd.Series,
    neighbours: FairBaseline,
    weights=WEIGHTS,
    weighting="tfidf",
    name: str = TITLE_PROFILE_BLEND,
) -> FairBaseline:
    """The customer's title profile blended with ``neighbours``: weight chosen on validation cold NDCG@10."""
    blends = weight_grid(
        TitleProfile(titles, weighting).fit(valid_task), neighbours.build(valid_task), valid_task, weights
    )
    grid = [
        {"weight": weight, "valid_ndcg@10": ndcg} for weight, ndcg in zip(weights, _scores(blends, valid_task, "cold"))
    ]
    table, best = _best(grid)
    weight = float(best["weight"])

    def build(task):
        return ScoreBlend(TitleProfile(titles, weighting).fit(task), neighbours.build(task), weight).fit(task)

    return FairBaseline(name, f"{name} (weight {weight:g})", "cold", {"weight": weight}, table, build)


def tune_title_models(
    valid_task, titles: pd.Series, weighting, neighbours_name: str, profile_name: str
) -> list[FairBaseline]:
    """Title neighbours' popularity and its personalised variant for one title representation, tuned."""
    neighbours = tune_title_neighbours(valid_task, titles, weighting=weighting, name=neighbours_name)
    return [neighbours, tune_title_profile(valid_task, titles, neighbours, weighting=weighting, name=profile_name)]


def tune_lexical_ranker(valid_task, titles: pd.Series, l2s=RANKER_L2) -> FairBaseline:
    """The learned lexical ranker: its L2 chosen on validation cold NDCG@10 (its weights are learned on the
    launch windows before the validation window, and again before the test window when refitted)."""
    grid = [
        {"l2": l2, "valid_ndcg@10": _score(LexicalRanker(titles, l2).fit(valid_task), valid_task, "cold")} for l2 in l2s
    ]
    table, best = _best(grid)
    l2 = float(best["l2"])
    return FairBaseline(
        LEXICAL_RANKER,
        f"{LEXICAL_RANKER} (L2 {l2:g})",
        "cold",
        {"l2": l2},
        table,
        lambda task: LexicalRanker(titles, l2).fit(task),
    )


def tune_fair_baselines(
    valid_task, titles: pd.Series, bm25: bool = True, ranker: bool = True, item_model: ItemModelChoice | None = None
) -> list[FairBaseline]:
    """Every fair baseline, tuned on ``valid_task`` (the validation window) only.

    The classical bar first (``item_model`` + recent popularity; ``None``: EASE), then the TF-IDF
    title models, then (with ``bm25``) the BM25 ones, then (with ``ranker``) the learned lexical ranker.
    """
    fair = [
        tune_classical_bar(valid_task, item_model),
        *tune_title_models(valid_task, titles, "tfidf", TITLE_NEIGHBOURS, TITLE_PROFILE_BLEND),
    ]
    if bm25:
        fair += tune_title_models(valid_task, titles, "bm25", BM25_NEIGHBOURS, BM25_PROFILE_BLEND)
    if ranker:
        fair.append(tune_lexical_ranker(valid_task, titles))
    return fair


def choices_table(baselines: list[FairBaseline]) -> pd.DataFrame:
    """One row per tuned baseline: the view it was tuned on, its settings and their validation NDCG@10."""
    return pd.DataFrame(
        [
            {
                "baseline": b.name,
                "chosen": b.description,
                "tuned on": f"validation, {b.view}",
                **b.numbers,
                "valid_ndcg@10": float(b.grid["valid_ndcg@10"].max()),
            }
            for b in baselines
        ]
    )
