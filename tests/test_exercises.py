"""Exercises: every notebook ends with 2–4 of them, and every solution notebook runs on a real (tiny) run."""

import shutil
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from recft_utils.notebook_execution import KERNEL_NAME
from recft_utils.runner import discover_notebooks
from recft_utils.workshop.agenda import count_exercises, exercises_cell

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


@pytest.mark.parametrize("notebook", discover_notebooks(), ids=lambda p: p.name.split("_")[0])
def test_each_notebook_ends_with_exercises_and_links_its_solutions(notebook):
    cells = nbformat.read(notebook, 4).cells
    exercises = exercises_cell(notebook)
    after = cells[[c.source for c in cells].index(exercises.source) + 1 :]
    # only starter cells follow: a sentence that starts "**Starter" and the code it introduces
    assert all(c.cell_type == "code" or c.source.startswith("**Starter") for c in after), notebook.name
    text = exercises.source
    count = count_exercises(notebook)
    assert 2 <= count <= 4, f"{notebook.name} has {count} exercises"
    link = f"solutions/{notebook.stem}_solutions.ipynb"
    assert link in text and (notebook.parent / link).is_file()
    solutions = nbformat.read(notebook.parent / link, 4)
    solved = [c for c in solutions.cells if c.cell_type == "markdown" and c.source.startswith("## Exercise ")]
    assert len(solved) == count, f"{link} solves {len(solved)} of {count} exercises"


@pytest.mark.parametrize("solution", sorted(SOLUTIONS.glob("*_solutions.ipynb")), ids=lambda p: p.name.split("_")[0])
def test_each_solution_runs_on_a_tiny_run(tiny_run, tmp_path, monkeypatch, solution):
    # a copy of the run: a solution must not change what the other tests read, and must not need to
    run_dir = shutil.copytree(tiny_run, tmp_path / "run", symlinks=True)
    monkeypatch.setenv("RECFT_TRACKING_URI", f"sqlite:///{run_dir / 'mlflow.db'}")
    executed = tmp_path / solution.name
    pm.execute_notebook(
        str(solution),
        str(executed),
        parameters={"run_dir": str(run_dir), "profile": "tiny"},
        kernel_name=KERNEL_NAME,
        cwd=str(SOLUTIONS),
        progress_bar=False,
    )
    outputs = [o for c in nbformat.read(executed, 4).cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len(outputs) >= 3  # each solution prints or shows its answer


def test_solutions_are_committed_with_the_outputs_of_the_workshop_run():
    """`make notebooks` executes them in place, with their defaults (the default run, the workshop profile)."""
    for solution in SOLUTIONS.glob("*_solutions.ipynb"):
        notebook = nbformat.read(solution, 4)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{solution.name}: a cell was not executed"
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], solution.name
        assert notebook.metadata["papermill"]["parameters"] == {}, f"{solution.name}: not run with its defaults"
