"""The workshop deck (docs/slides.html): regenerated with the notebooks, complete, and offline.

The browser opens it in tests/test_lab.py (test_slide_deck_opens_offline_in_a_browser)."""

import re

import nbformat

from recft_utils.config import project_root
from recft_utils.runner import discover_notebooks
from recft_utils.workshop import slides

ROOT = project_root()


def test_the_committed_deck_is_what_the_committed_notebooks_give():
    assert slides.deck_path(ROOT).read_text(encoding="utf-8") == slides.build_slides(ROOT), (
        "docs/slides.html is out of date: run `make slides` (make notebooks does too)"
    )


def test_the_deck_loads_nothing_from_the_network():
    html = slides.deck_path(ROOT).read_text(encoding="utf-8")
    sources = re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="([^"]+)"', html)
    assert sources and not [s for s in sources if re.match(r"(https?:)?//", s)], sources
    vendor = slides.vendor_dir(ROOT)
    for name in slides.REVEAL_FILES:  # committed beside the deck, so a room without internet can open it
        assert (vendor / name).is_file(), name
        if name != "LICENSE":
            assert f"{vendor.relative_to(ROOT / 'docs').as_posix()}/{name}" in sources
    assert "MathJax.Hub" not in html and "require(" not in html


def test_every_notebook_has_its_tagged_slides_its_verdict_and_the_facilitator_s_notes():
    deck = slides.deck_notebook(discover_notebooks(), (ROOT / "docs" / "facilitator.md").read_text())
    kinds = [c.metadata["slideshow"]["slide_type"] for c in deck.cells]
    assert kinds.count("slide") == 1 + len(discover_notebooks())  # a cover, then one column per notebook
    assert kinds.count("notes") == len(discover_notebooks())
    tagged = {tag: 0 for tag in slides.SLIDE_TAGS}
    for notebook in discover_notebooks():
        cells = nbformat.read(notebook, 4).cells
        found = [slides.tagged(c) for c in cells if slides.tagged(c)]
        assert {"slide-goal", "slide-result", "slide-takeaway"} <= set(found), notebook.name  # its verdict too
        for tag in found:
            tagged[tag] += 1
    in_deck = sum("image/png" in o.get("data", {}) for c in deck.cells if c.cell_type == "code" for o in c.outputs)
    drawn = sum(
        "image/png" in o.get("data", {})
        for nb in discover_notebooks()
        for c in nbformat.read(nb, 4).cells
        if slides.tagged(c) == "slide-figure"
        for o in c.outputs
    )
    assert in_deck == drawn >= tagged["slide-figure"] > 0
    text = "\n".join(c.source for c in deck.cells if c.cell_type == "markdown")
    assert "$" not in text and "<!--" not in text  # no formula without MathJax, no generated-block markers
    assert "**Talking points:**" in text and "What you learned" in text


def test_no_slide_is_empty():
    deck = slides.deck_notebook(discover_notebooks(), (ROOT / "docs" / "facilitator.md").read_text())
    for index, cell in enumerate(deck.cells):
        kind = cell.metadata["slideshow"]["slide_type"]
        if kind not in ("slide", "subslide"):
            continue
        body = "\n".join(line for line in cell.source.splitlines() if not line.startswith("#")).strip()
        following = deck.cells[index + 1] if index + 1 < len(deck.cells) else None
        shows = following is not None and following.metadata["slideshow"]["slide_type"] == "-" and following.outputs
        assert body or shows, f"slide {index} is empty: {cell.source!r}"


def test_a_notebook_without_a_result_slide_is_refused(tmp_path):
    import pytest

    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("# 09 · A chapter\n\nWhat it does.")]
    path = tmp_path / "09_chapter.ipynb"
    nbformat.write(book, path)
    with pytest.raises(ValueError, match="no cell tagged slide-result"):
        slides.notebook_slides(path)
    book.cells.append(nbformat.v4.new_code_cell("x", metadata={"tags": ["slide-result"]}))
    nbformat.write(book, path)
    with pytest.raises(ValueError, match="has nothing to show"):
        slides.notebook_slides(path)


def test_paragraphs_and_notes_are_read_from_markdown():
    assert slides.paragraphs("a <!-- x:start -->b<!-- x:end -->\n\n\nc") == ["a b", "c"]
    assert not slides.fits_a_slide("$x$") and not slides.fits_a_slide("w " * 400) and slides.fits_a_slide("short")
    assert slides._chunks(["- a\n- b", "- c"], limit=7) == ["- a\n- b", "- c"]
    guide = "## Teaching\n\n### 01 Requirements\n- one\n\n### 02 Data\n- two\n\n## Next\n"
    assert slides.facilitator_notes(guide) == {"01": "- one", "02": "- two"}
