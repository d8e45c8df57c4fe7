"""Workshop agendas built from measured notebook run times.

A slot's length is the notebook's measured run time (rounded up to whole
minutes) plus the facilitator's explaining time and the exercises chosen for
that slot. The explaining time is the reading time the notebook's introduction
states (:func:`reading_minutes`: the facilitator explains what a learner reads,
so the two cannot disagree); the exercise minutes are an estimate, declared here
once so the guide can say so; the run times come from
``python -m recft_utils.benchmark notebooks``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pandas as pd

MINUTES_PER_EXERCISE = 10  # an estimate: predict, run, compare with a neighbour

# (label, notebook number or None, exercises done in the slot, fixed minutes for slots without a notebook)
HALF_DAY = [
    ("Welcome; `recft doctor` on every laptop", None, 0, 15),
    ("01 Requirements", "01", 1, 0),
    ("02 Data preparation", "02", 1, 0),
    ("Break", None, 0, 15),
    ("03a The two-tower model", "03a", 1, 0),
    ("03b Fine-tuning and the verdict", "03b", 0, 0),
    ("04 Serving", "04", 0, 0),
    ("Wrap-up: what 05 and 06 add", None, 0, 10),
]
FULL_DAY = [
    ("Welcome; `recft doctor` on every laptop", None, 0, 15),
    ("01 Requirements", "01", 3, 0),
    ("02 Data preparation", "02", 2, 0),
    ("Break", None, 0, 15),
    ("03a The two-tower model", "03a", 2, 0),
    ("Lunch", None, 0, 60),
    ("03b Fine-tuning and the verdict", "03b", 1, 0),
    ("04 Serving", "04", 2, 0),
    ("05 Collaboration", "05", 2, 0),
    ("Break", None, 0, 15),
    ("06 Iteration", "06", 2, 0),
    ("Wrap-up and questions", None, 0, 15),
]


def build_agenda(
    plan, run_seconds: dict[str, float], exercises: dict[str, int], explain: dict[str, int], start: str = "09:00"
) -> pd.DataFrame:
    """One row per slot: start time, minutes, and how the minutes were made up.

    ``run_seconds`` maps a notebook number ("01") to its measured run time;
    ``exercises`` to the number of exercises it has (a slot never does more);
    ``explain`` to its explaining minutes (:func:`reading_minutes`).
    """
    clock = dt.datetime.strptime(start, "%H:%M")
    rows = []
    for label, number, chosen, fixed in plan:
        run = math.ceil(run_seconds[number] / 60) if number else 0
        done = min(chosen, exercises.get(number, 0)) if number else 0
        explaining = explain[number] if number else fixed
        minutes = run + explaining + done * MINUTES_PER_EXERCISE
        late = f"`recft checkpoint --step {checkpoint_before(number)}`" if number and number != "01" else ""
        rows.append(
            {
                "start": clock.strftime("%H:%M"),
                "slot": label,
                "minutes": minutes,
                "notebook run": run,
                "explaining": explaining,
                "exercises": done,
                "a late-comer joins with": late,
            }
        )
        clock += dt.timedelta(minutes=minutes)
    rows.append(
        {
            "start": clock.strftime("%H:%M"),
            "slot": "End",
            "minutes": 0,
            "notebook run": 0,
            "explaining": 0,
            "exercises": 0,
            "a late-comer joins with": "",
        }
    )
    return pd.DataFrame(rows)


def checkpoint_before(number: str) -> str:
    """The checkpoint a late-comer makes to open notebook ``number`` ("04" -> "3", "03b" -> "3a")."""
    from recft_utils.run import STEPS, checkpoint_label, notebook_id

    index = [notebook_id(step) for step in STEPS].index(number)
    return checkpoint_label(STEPS[index - 1])


def reading_minutes(notebook: Path) -> int:
    """The reading time a notebook's introduction states (``*Time:* ..., 20 minutes to read``)."""
    import nbformat

    found = re.search(r"(\d+) minutes to read", nbformat.read(notebook, 4).cells[0].source)
    if found is None:
        raise ValueError(f'{notebook.name}\'s introduction states no reading time ("N minutes to read").')
    return int(found.group(1))


def exercises_cell(notebook: Path):
    """A notebook's ``## Exercises`` cell: the last markdown cell that starts so (starter cells may follow), or None."""
    import nbformat

    cells = [
        c for c in nbformat.read(notebook, 4).cells if c.cell_type == "markdown" and c.source.startswith("## Exercises")
    ]
    return cells[-1] if cells else None


def count_exercises(notebook: Path) -> int:
    """Exercises in a notebook's ``## Exercises`` cell (items ``1. **Title.**``); 0 without one."""
    last = exercises_cell(notebook)
    if last is None:
        return 0
    return len(re.findall(r"^\d+\. \*\*", last.source, flags=re.M))
