"""Each notebook states the reading time measured from it (``make notebooks`` writes it), within one sitting."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from recft_utils.runner import discover_notebooks
from recft_utils.workshop import reading_time


@pytest.mark.parametrize("notebook", discover_notebooks(), ids=lambda p: p.stem)
def test_each_notebook_states_its_measured_reading_time_and_fits_one_sitting(notebook):
    measured = reading_time.measure(notebook)["minutes"]
    assert reading_time.stated(notebook) == measured, f"{notebook.name}: run `make notebooks`"
    assert measured <= reading_time.BUDGET_MINUTES, f"{notebook.name} takes {measured} minutes to read"


def test_words_tables_and_code_count_but_parameters_and_stderr_do_not(tmp_path):
    intro = "Intro<!-- reading:time:start -->1 minutes to read<!-- reading:time:end --> " + "word " * 399
    table = {"text/html": "<table>" + "<td>cell</td>" * 200 + "</table>", "text/plain": "ignored"}
    cells = [
        new_markdown_cell(intro),
        new_code_cell("x = 1\n" * 5, metadata={"tags": ["parameters"]}),
        new_code_cell(
            "# a comment\n" + "y = 2\n" * 20,
            outputs=[
                new_output("stream", name="stdout", text="printed " * 200),
                new_output("stream", name="stderr", text="noise " * 1000),
                new_output("display_data", data=table),
            ],
        ),
    ]
    path = tmp_path / "book.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    # 400 words of markdown + 200 printed + 200 table cells = 800 words (4 min); 20 lines of code (2 min)
    assert reading_time.measure(path) == {"words": 800, "code_lines": 20, "minutes": 6}
    assert reading_time.fill(path) == 6 and reading_time.stated(path) == 6
