"""nbval checks the committed outputs of the numbered notebooks; the solution notebooks have none to
check and need a run to read, so tests/test_exercises.py executes them on a tiny run instead."""

collect_ignore_glob = ["solutions/*.ipynb"]
