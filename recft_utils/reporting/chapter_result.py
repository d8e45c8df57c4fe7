"""Step 3's result in a few generated sentences: what is served, what the language model adds over its
lexical twin, which signal does the work, which base model to choose and where fine-tuning pays.

Notebook 03 prints them last, from its own serving table and the committed benchmark summaries, so the
chapter states its result for whatever run and shop it was given, never in typed figures.
"""

from __future__ import annotations

import pandas as pd

from recft_utils.evaluation.learning_curve import curve_sentences
from recft_utils.evaluation.rolling_origin import signal_summary, verdict_sentences
from recft_utils.experiments.serving_choice import serving_sentence
from recft_utils.text.base_models import base_model_choice


def _fine_tuning_lines(curve_summary: dict) -> list[str]:
    """The learning curve's sentences on a fine-tuned encoder against the frozen one (its model's name
    says fine-tuned)."""
    differences = pd.DataFrame(curve_summary["differences"])
    return curve_sentences(differences[differences["model"].str.contains("fine-tuned")])


def step3_result(
    serving: pd.DataFrame,
    dataset: str,
    reference: dict | None = None,
    base_summary: dict | None = None,
    curve_summary: dict | None = None,
) -> list[str]:
    """The sentences, each from its source; a benchmark summary of another ``dataset`` (or none) is left
    out with the command that makes one."""
    lines = [serving_sentence(serving)]
    if reference is not None and reference["dataset"] == dataset:
        lines += verdict_sentences(reference["verdict"]) + signal_summary(reference)
    else:
        lines.append("No rolling-origin benchmark for this shop: `python -m recft_utils.benchmark rolling` makes one.")
    if base_summary is not None and base_summary["dataset"] == dataset:
        lines.append(base_model_choice(base_summary))
    if curve_summary is not None and curve_summary["dataset"] == dataset:
        lines += _fine_tuning_lines(curve_summary)
    return lines
