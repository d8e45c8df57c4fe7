"""nbval checks the committed outputs of the numbered notebooks; the solution notebooks have none to
check and need a run to read, so tests/test_exercises.py executes them on a tiny run instead."""

import pytest

collect_ignore_glob = ["solutions/*.ipynb"]


def pytest_itemcollected(item):
    """Every cell is of the ``notebooks`` kind (see tests/conftest.py); `make test` runs all cells of all
    committed notebooks in one worker, in order (tests/conftest.py's scheduler).

    A checked cell's stdout and displayed results are compared, not its stderr: there TensorFlow's
    C++ runtime logs lines (cost-model and device warnings) that appear in one run and not the next.
    """
    item.add_marker(pytest.mark.notebooks)
    item.parent.skip_compare = tuple(dict.fromkeys((*item.parent.skip_compare, "stderr")))
