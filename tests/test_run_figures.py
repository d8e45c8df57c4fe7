"""Each step's key figures are declared once (recft_utils.run_figures), written and read through Run."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from recft_utils.errors import MissingArtefactError, ParameterError
from recft_utils.run import STEPS, Run
from recft_utils.run_figures import STEP_FIGURES, StepFigures, check_figures

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXAMPLE = {"count": 3, "number": 0.5, "text": "a", "list": [1], "mapping": {"a": 1}}


def complete(step: str) -> dict:
    return {name: EXAMPLE[kind] for name, kind in STEP_FIGURES[step].items()}


def test_every_step_declares_its_figures():
    assert list(STEP_FIGURES) == list(STEPS)
    assert all(kind in EXAMPLE for figures in STEP_FIGURES.values() for kind in figures.values())


def test_exactly_the_declared_figures_pass():
    figures = complete("04_serving")
    assert check_figures("04_serving", figures) is figures


def test_missing_unknown_and_mistyped_figures_are_all_named():
    figures = {**complete("04_serving"), "latencyy": [], "parity_customers": "12", "parity_identical": True}
    del figures["model_version"]
    with pytest.raises(ParameterError) as error:
        check_figures("04_serving", figures)
    message = str(error.value)
    for part in (
        "missing model_version",
        "undeclared latencyy",
        "parity_customers should be a count, got str",
        "parity_identical should be a count, got bool",
        "run_figures.py",
    ):
        assert part in message


def test_a_step_writes_its_figures_atomically_and_numpy_numbers_as_json_numbers(tmp_path):
    run = Run(tmp_path)
    run.path("06_iteration").mkdir(parents=True)
    figures = {**complete("06_iteration"), "epochs": np.int64(4), "chapter_seconds": np.float32(1.5)}
    path = run.write_figures("06_iteration", figures)
    stored = json.loads(path.read_text())
    assert stored["epochs"] == 4 and isinstance(stored["epochs"], int) and stored["chapter_seconds"] == 1.5
    assert [p.name for p in path.parent.iterdir()] == [Run.FIGURES]
    with pytest.raises(ParameterError):
        run.write_figures("06_iteration", {"epochs": 4})
    assert json.loads(path.read_text()) == stored  # a refused write leaves the file as it was


def test_reading_a_figure_the_step_does_not_declare_or_an_older_run_lacks():
    figures = StepFigures("02_data_preparation", {"sequence_length": 32}, "`recft checkpoint --step 2`")
    assert figures["sequence_length"] == 32
    with pytest.raises(KeyError, match="declares no figure 'sequence_lenght'"):
        figures["sequence_lenght"]
    with pytest.raises(MissingArtefactError, match="older recft.*recft checkpoint --step 2"):
        figures["augmented_rows"]


@pytest.mark.parametrize("step", STEPS)
def test_each_notebook_writes_its_figures_through_run(step):
    code = "\n".join(c.source for c in nbformat.read(NOTEBOOKS / f"{step}.ipynb", 4).cells if c.cell_type == "code")
    assert f'run.write_figures("{step}", {{' in code
    assert "figures.json" not in code and "Run.FIGURES" not in code
