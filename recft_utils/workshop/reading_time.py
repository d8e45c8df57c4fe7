"""How long a notebook takes to read, measured from the notebook itself.

Words of markdown and of text outputs (source listings and tables included) at
:data:`WORDS_PER_MINUTE`, plus lines of code at :data:`CODE_LINES_PER_MINUTE`. A
notebook's introduction states the result between ``<!-- reading:time:start -->`` and
``<!-- reading:time:end -->``; :func:`fill` writes it there, after ``make notebooks`` has
executed the notebook, and ``tests/test_reading_time.py`` checks that the stated time is the
measured one and within :data:`BUDGET_MINUTES`.
"""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path

WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 10
BUDGET_MINUTES = 40  # what one sitting of a chapter may ask
MARKER = re.compile(r"(<!-- reading:time:start -->)(.*?)(<!-- reading:time:end -->)", re.S)


def _words(text: str) -> int:
    return len(re.findall(r"[\w.,:;%+\-/·×()=']+", text))


def _output_text(output) -> str:
    """What a reader reads of one output: its plain text, or a table's or listing's text (not its HTML tags)."""
    if output.get("output_type") == "stream":
        return output.get("text", "") if output.get("name") == "stdout" else ""
    data = output.get("data", {})
    if "text/markdown" in data:
        return data["text/markdown"]
    if "text/html" in data:
        return html.unescape(re.sub(r"<[^>]+>", " ", data["text/html"]))
    return data.get("text/plain", "") if "image/png" not in data else ""


def measure(notebook) -> dict:
    """``{"words", "code_lines", "minutes"}`` of a notebook (minutes rounded up)."""
    import nbformat

    cells = nbformat.read(notebook, 4).cells
    words = sum(_words(MARKER.sub("", c.source)) for c in cells if c.cell_type == "markdown")
    code_lines = 0
    for cell in cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        code_lines += sum(1 for line in cell.source.splitlines() if line.strip() and not line.lstrip().startswith("#"))
        words += sum(_words(_output_text(output)) for output in cell.get("outputs", []))
    minutes = words / WORDS_PER_MINUTE + code_lines / CODE_LINES_PER_MINUTE
    return {"words": words, "code_lines": code_lines, "minutes": math.ceil(minutes)}


def stated(notebook) -> int | None:
    """The reading time a notebook's introduction states between the markers (None without them)."""
    import nbformat

    found = MARKER.search(nbformat.read(notebook, 4).cells[0].source)
    return int(re.search(r"\d+", found.group(2)).group(0)) if found else None


def fill(notebook) -> int:
    """Write the measured reading time into the introduction's markers (temporary file, then rename)."""
    import nbformat

    path = Path(notebook)
    book = nbformat.read(path, 4)
    minutes = measure(path)["minutes"]
    book.cells[0].source = MARKER.sub(
        lambda m: f"{m.group(1)}{minutes} minutes to read{m.group(3)}", book.cells[0].source
    )
    temporary = path.with_name(path.name + ".tmp")
    nbformat.write(book, temporary)
    os.replace(temporary, path)
    return minutes


def fill_all() -> dict[str, int]:
    """:func:`fill` on every notebook of the chain (``make notebooks`` runs this after executing them)."""
    from recft_utils.runner import discover_notebooks

    return {notebook.stem: fill(notebook) for notebook in discover_notebooks()}


if __name__ == "__main__":
    for name, minutes in fill_all().items():
        print(f"notebooks/{name}.ipynb: {minutes} minutes to read")
