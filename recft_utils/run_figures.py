"""Each step's key figures (its ``figures.json``): every name and type, declared once.

A notebook writes its figures with :meth:`~recft_utils.run.Run.write_figures`, which refuses a
missing, unknown or mistyped one before anything is written; the later notebooks, the model card,
the datasheet and the facilitator's answer key read them with
:meth:`~recft_utils.run.Run.figures`, whose mapping refuses a name the step does not declare (a
typo in the reader) and names the command that recreates a run folder that lacks one (an older recft).
"""

from __future__ import annotations

import numbers

from recft_utils.errors import MissingArtefactError, ParameterError

# whole numbers and real numbers, not booleans (``True`` is an int to Python)
COUNT, NUMBER = "count", "number"
TYPES = {COUNT: numbers.Integral, NUMBER: numbers.Real, "text": str, "list": list, "mapping": dict}

STEP_FIGURES: dict[str, dict[str, str]] = {
    "01_requirements": {
        # the dataset (recft_utils.datasets.statistics.dataset_summary)
        "interactions": COUNT,
        "orders": COUNT,
        "customers": COUNT,
        "items": COUNT,
        "countries": COUNT,
        "first_day": "text",
        "last_day": "text",
        "density": NUMBER,
        "top10_item_share": NUMBER,
        "repeat_share_test": NUMBER,
        "text_sharing": "mapping",
        "new_products_with_known_text": COUNT,
        "split": "list",  # one row per window: its sizes
        "baselines": "list",  # one row per model and view
        "targets": "list",  # the fair bar each view must beat
    },
    "02_data_preparation": {
        "cleaning": "list",
        "interactions": COUNT,
        "customers": COUNT,
        "items": COUNT,
        "cold_items_test": COUNT,
        "positives": COUNT,
        "repeat_pairs": NUMBER,
        "parts": "mapping",
        "sequence_length": COUNT,
        "augmented_rows": COUNT,
        "augmented_by_method": "mapping",
    },
    "03a_two_tower": {
        "encode_titles_per_second": NUMBER,
        "best_epochs": COUNT,
        "validation_curve": "list",
        "search": "list",
        "ablation": "list",
        "blend_weight": NUMBER,
        "blend_weights": "list",
        "chapter_seconds": NUMBER,
    },
    "03b_fine_tuning": {
        "fine_tuning_cost": "list",
        "served_regime": "text",
        "tried": "list",
        "table": "list",
        "verdict": "list",
        "results": "list",
        "chapter_seconds": NUMBER,
    },
    "04_serving": {
        "model_version": "text",
        "parity_customers": COUNT,
        "parity_identical": COUNT,
        "latency": "list",
        "replay_comparison": "mapping",
        "skipped_orders": "mapping",
        "chapter_seconds": NUMBER,
    },
    "05_collaboration": {
        "customers": COUNT,
        "mean": "mapping",
        "profile": "mapping",
        "finding": "text",
        "segments": "mapping",
        "reports": "list",
        "report_seconds": NUMBER,
        "tracked_runs": "mapping",
        "chapter_seconds": NUMBER,
    },
    "06_iteration": {
        "months": "list",
        "epochs": COUNT,
        "warm_epochs": COUNT,
        "warm_start": "mapping",
        "decisions": "list",
        "alerts": "mapping",
        "registry": "mapping",
        "chapter_seconds": NUMBER,
    },
}


def declared(step: str) -> dict[str, str]:
    """The figures ``step`` declares, name to type."""
    if step not in STEP_FIGURES:
        raise ParameterError(f"Unknown step {step!r}; the steps with figures are {', '.join(STEP_FIGURES)}.")
    return STEP_FIGURES[step]


def check_figures(step: str, figures: dict) -> dict:
    """``figures`` itself when it holds exactly ``step``'s declared names, each of its type; else an error
    that names every missing, unknown and mistyped one (and where they are declared)."""
    names = declared(step)
    problems = [
        f"missing {', '.join(sorted(set(names) - set(figures)))}" if set(names) - set(figures) else "",
        f"undeclared {', '.join(sorted(set(figures) - set(names)))}" if set(figures) - set(names) else "",
    ]
    for name in sorted(set(names) & set(figures)):
        value, kind = figures[name], names[name]
        if isinstance(value, bool) or not isinstance(value, TYPES[kind]):
            problems.append(f"{name} should be a {kind}, got {type(value).__name__}")
    problems = [p for p in problems if p]
    if problems:
        raise ParameterError(
            f"The figures of {step}: {'; '.join(problems)}. Every step's figures are declared in "
            f"recft_utils/run_figures.py (STEP_FIGURES): write those, or declare a new one there."
        )
    return figures


class StepFigures(dict):
    """A step's figures as read from its ``figures.json``: a name the step does not declare is a
    ``KeyError`` naming the declared ones; a declared one missing from the file is a
    :class:`~recft_utils.errors.MissingArtefactError` that says how to recreate the step."""

    def __init__(self, step: str, values: dict, recreate: str):
        super().__init__(values)
        self.step, self.recreate = step, recreate

    def __missing__(self, name: str):
        if name not in declared(self.step):
            raise KeyError(f"{self.step} declares no figure {name!r}; it declares {', '.join(declared(self.step))}.")
        raise MissingArtefactError(
            f"The figures of {self.step} have no {name!r} (the step was made by an older "
            f"recft). Recreate it with {self.recreate}"
        )
