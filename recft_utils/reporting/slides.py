"""The workshop's slide deck: the notebooks' goals, sections and plots, with the facilitator's notes.

``make slides`` (and ``make notebooks``, after the notebooks) writes ``docs/slides.html`` from the
committed notebooks with nbconvert's reveal.js exporter:

- one slide per notebook: its title, what it is about, its run and reading time; below it (reveal.js's
  vertical slides) "In this notebook you will", each section's heading and first paragraph, each plot
  the section drew, and "What you learned";
- speaker notes (press ``S``) from that notebook's part of ``docs/facilitator.md``: talking points,
  questions for the room, misconceptions.

It opens offline, for rooms without internet: reveal.js is vendored beside the deck
(``docs/vendor/reveal.js-VERSION/``, fetched once from the npm registry with a checked SHA-256 by
:func:`vendor_reveal`) and the template (``templates/recft_slides``) loads nothing from a CDN. The
deck carries no formulas (MathJax would be a CDN or megabytes), so a paragraph with LaTeX stays in
its notebook.

    python -m recft_utils.reporting.slides [--check]
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import tarfile
from pathlib import Path

from recft_utils.artefacts import atomic_directory, atomic_path
from recft_utils.config import project_root

REVEAL_VERSION = "4.6.1"
REVEAL_TARBALL = f"https://registry.npmjs.org/reveal.js/-/reveal.js-{REVEAL_VERSION}.tgz"
REVEAL_SHA256 = "4f4121ef2b8e7e9398bdecd7b3b6ce5e0ee3a2f5af221708eb6c4ce03bcae6be"
REVEAL_FILES = ("LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "plugin/notes/notes.js")
TEMPLATES = Path(__file__).with_name("templates")
SKIPPED_SECTIONS = ("## Parameters", "## Setup", "## Exercises")
GOALS_PER_SLIDE = 6  # items of "In this notebook you will" per slide
MAX_PARAGRAPH = 700  # characters: a longer first paragraph is reading, not a slide


def deck_path(root: Path | None = None) -> Path:
    return (root or project_root()) / "docs" / "slides.html"


def vendor_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "docs" / "vendor" / f"reveal.js-{REVEAL_VERSION}"


def vendor_reveal(folder: Path | None = None) -> Path:
    """The vendored reveal.js files; downloaded once from the npm registry (SHA-256 checked) when missing."""
    folder = Path(folder or vendor_dir())
    if all((folder / name).is_file() for name in REVEAL_FILES):
        return folder
    import pooch

    tarball = pooch.retrieve(REVEAL_TARBALL, known_hash=f"sha256:{REVEAL_SHA256}", progressbar=True)
    with tarfile.open(tarball) as archive, atomic_directory(folder) as tmp:
        for name in REVEAL_FILES:
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(f"package/{name}").read())
    return folder


def paragraphs(markdown: str) -> list[str]:
    """Blank-line separated blocks, HTML comments (the generated-block markers) removed."""
    markdown = re.sub(r"<!--.*?-->", "", markdown, flags=re.S)
    return [block.strip() for block in re.split(r"\n\s*\n", markdown) if block.strip()]


def fits_a_slide(paragraph: str) -> bool:
    """No formula (the deck loads no MathJax) and short enough to read from the back of a room."""
    return "$" not in paragraph and len(paragraph) <= MAX_PARAGRAPH


def facilitator_notes(guide: str) -> dict[str, str]:
    """The facilitator guide's "### NN ..." parts of *Teaching each notebook*, by notebook number."""
    notes = {}
    for match in re.finditer(r"^### (\d\d) [^\n]*\n(.*?)(?=^##|\Z)", guide, flags=re.M | re.S):
        notes[match.group(1)] = match.group(2).strip()
    return notes


def _cell(nbformat, kind: str, source: str, slide_type: str, outputs=None):
    if kind == "markdown":
        cell = nbformat.v4.new_markdown_cell(source)
    else:
        cell = nbformat.v4.new_code_cell(source, outputs=outputs or [])
    cell.metadata["slideshow"] = {"slide_type": slide_type}
    return cell


def plot_outputs(cell, alt: str = "plot") -> list:
    """A code cell's PNG outputs, without their text repr (``<Figure size ...>``), described by ``alt``."""
    plots = []
    for output in cell.get("outputs", []):
        if "image/png" in output.get("data", {}):
            plot = copy.deepcopy(output)
            plot["data"], plot["metadata"] = {"image/png": output["data"]["image/png"]}, {"alt": alt}
            plots.append(plot)
    return plots


def notebook_slides(path: Path, notes: str | None = None) -> list:
    """The slides of one committed notebook (see the module's docstring)."""
    import nbformat

    notebook = nbformat.read(path, 4)
    intro = paragraphs(notebook.cells[0].source)
    goals = [p for p in intro if p.startswith("- ")]  # "In this notebook you will" and its list
    title = [p for p in intro if p not in goals and fits_a_slide(p) and not p.startswith(("In this notebook",
                                                                                           "*Reads:*", "*Writes"))]
    cells = [_cell(nbformat, "markdown", "\n\n".join(title), "slide")]
    if notes:
        cells.append(_cell(nbformat, "markdown", notes, "notes"))
    items = [item for block in goals for item in re.split(r"\n(?=- )", block)]
    for start in range(0, len(items), GOALS_PER_SLIDE):
        cells.append(_cell(nbformat, "markdown", "#### In this notebook you will\n\n"
                           + "\n".join(items[start:start + GOALS_PER_SLIDE]), "subslide"))
    section = cells[0].source.splitlines()[0].lstrip("# ")
    for cell in notebook.cells[1:]:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            blocks = paragraphs(cell.source)
            section = blocks[0].lstrip("# ")
            if blocks[0].startswith(SKIPPED_SECTIONS):
                continue
            if section.startswith("What you learned"):
                cells.append(_cell(nbformat, "markdown", "\n\n".join(b for b in blocks if fits_a_slide(b)), "subslide"))
                continue
            first = [b for b in blocks[1:2] if fits_a_slide(b)]
            cells.append(_cell(nbformat, "markdown", "\n\n".join([blocks[0], *first]), "subslide"))
        elif cell.cell_type == "code" and plot_outputs(cell):
            cells.append(_cell(nbformat, "markdown", f"#### {section}", "subslide"))
            cells.append(_cell(nbformat, "code", "", "-", plot_outputs(cell, f"notebook {path.name[:2]}, {section}: a plot")))
    return cells


def deck_notebook(notebooks: list[Path], guide: str):
    """One notebook holding every slide: a title slide, then each notebook's (see :func:`notebook_slides`)."""
    import nbformat

    notes = facilitator_notes(guide)
    titles = "\n".join(f"{i}. {nbformat.read(p, 4).cells[0].source.splitlines()[0].lstrip('# ')}"
                       for i, p in enumerate(notebooks, 1))
    cover = ("# recft: a pretrained language model becomes a product recommender\n\n"
             f"The workshop's six steps, one notebook each:\n\n{titles}\n\n"
             "*Right arrow: the next notebook; down arrow: its sections and plots; S: speaker notes.*")
    deck = nbformat.v4.new_notebook()
    deck.metadata["title"] = "recft workshop"
    deck.cells = [_cell(nbformat, "markdown", cover, "slide")]
    for path in notebooks:
        deck.cells += notebook_slides(path, notes.get(path.name[:2]))
    for number, cell in enumerate(deck.cells):  # the same ids on every build: a regenerated deck diffs cleanly
        cell.id = f"slide-cell-{number}"
    return deck


def render_deck(deck, reveal_prefix: str) -> str:
    """The deck as reveal.js HTML (inputs and prompts hidden), reveal.js loaded from ``reveal_prefix``."""
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(template_name="recft_slides", extra_template_basedirs=[str(TEMPLATES)],
                              exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                              reveal_url_prefix=reveal_prefix, reveal_theme="white", reveal_transition="none",
                              reveal_number="c/t")
    html, _ = exporter.from_notebook_node(deck)
    return html


def build_slides(root: Path | None = None) -> str:
    """The deck's HTML from the committed notebooks and the facilitator guide of the checkout at ``root``."""
    from recft_utils.runner import discover_notebooks

    root = root or project_root()
    deck = deck_notebook(discover_notebooks(), (root / "docs" / "facilitator.md").read_text())
    return render_deck(deck, vendor_dir(root).relative_to(deck_path(root).parent).as_posix())


def write_slides(root: Path | None = None) -> Path:
    """``docs/slides.html``, written atomically, with reveal.js vendored beside it."""
    vendor_reveal(vendor_dir(root))
    target = deck_path(root)
    with atomic_path(target) as tmp:
        tmp.write_text(build_slides(root), encoding="utf-8")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recft_utils.reporting.slides", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/slides.html is not what the notebooks give")
    args = parser.parse_args(argv)
    if args.check:
        current = deck_path().read_text(encoding="utf-8") if deck_path().is_file() else ""
        if current != build_slides():
            print(f"{deck_path()} is out of date: run `make slides`.", file=sys.stderr)
            return 1
        print(f"{deck_path()} is up to date")
        return 0
    path = write_slides()
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB), reveal.js {REVEAL_VERSION} in {vendor_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
