"""The workshop's slide deck: the cells each notebook tags for it, with the facilitator's notes.

``make slides`` (and ``make notebooks``, after the notebooks) writes ``docs/slides.html`` from the
committed notebooks with nbconvert's reveal.js exporter:

- one slide per notebook: its title and what it is about; below it (reveal.js's vertical slides) one
  slide per cell the notebook tagged (:data:`SLIDE_TAGS`: its goals, key plots, its result with the
  verdict, what was learned), in the notebook's order;
- speaker notes (press ``S``) from that notebook's part of ``docs/facilitator.md``: talking points,
  questions for the room, misconceptions.

It opens offline, for rooms without internet: reveal.js is vendored beside the deck
(``docs/vendor/reveal.js-VERSION/``, fetched once from the npm registry with a checked SHA-256 by
:func:`vendor_reveal`) and the template (``templates/recft_slides``) loads nothing from a CDN. The
deck carries no formulas (MathJax would be a CDN or megabytes), so a paragraph with LaTeX stays in
its notebook.

    python -m recft_utils.workshop.slides [--check]
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import tarfile
from importlib import resources
from pathlib import Path

from recft_utils.artefacts import atomic_directory, atomic_path
from recft_utils.config import project_root
from recft_utils.run import notebook_id

REVEAL_VERSION = "4.6.1"
REVEAL_TARBALL = f"https://registry.npmjs.org/reveal.js/-/reveal.js-{REVEAL_VERSION}.tgz"
REVEAL_SHA256 = "4f4121ef2b8e7e9398bdecd7b3b6ce5e0ee3a2f5af221708eb6c4ce03bcae6be"
REVEAL_FILES = ("LICENSE", "dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "plugin/notes/notes.js")
TEMPLATES = Path(str(resources.files("recft_utils.workshop") / "templates"))  # package data
# What makes a slide: each notebook tags its cells (cell metadata "tags"), in the order they read.
SLIDE_TAGS = {
    "slide-goal": "a markdown cell whose list says what the chapter does",
    "slide-figure": "a code cell whose plot the room should see",
    "slide-result": "a code cell whose printed text or table is the chapter's result (at least one, its verdict)",
    "slide-takeaway": "a markdown cell that says what was learned",
}
MAX_PARAGRAPH = 700  # characters on one slide: more is reading, not a slide


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
    """The facilitator guide's "### NN ..." parts of *Teaching each notebook*, by notebook number ("03a" too)."""
    notes = {}
    for match in re.finditer(r"^### (\d\d[a-z]?) [^\n]*\n(.*?)(?=^##|\Z)", guide, flags=re.M | re.S):
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


def result_outputs(cell) -> list:
    """What a result cell shows a room: its printed text and its table, not its plots (a figure slide has those)."""
    shown = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            shown.append(copy.deepcopy(output))
        elif output.get("output_type") in ("execute_result", "display_data") and "image/png" not in output.get(
            "data", {}
        ):
            shown.append(copy.deepcopy(output))
    return shown


def _chunks(blocks: list[str], limit: int = MAX_PARAGRAPH) -> list[str]:
    """Markdown blocks (list items split apart) grouped into slides of at most ``limit`` characters each."""
    items = [item for block in blocks for item in re.split(r"\n(?=- )", block)]
    slides_, current = [], []
    for item in items:
        if current and len("\n".join(current + [item])) > limit:
            slides_.append("\n".join(current))
            current = []
        current.append(item)
    return slides_ + (["\n".join(current)] if current else [])


def tagged(cell) -> str | None:
    """The slide tag of a cell (one of :data:`SLIDE_TAGS`), or None."""
    return next((tag for tag in cell.metadata.get("tags", []) if tag in SLIDE_TAGS), None)


def notebook_slides(path: Path, notes: str | None = None) -> list:
    """The slides of one committed notebook: its title, then one slide per tagged cell, in order (see
    :data:`SLIDE_TAGS`). A notebook without a result slide is refused: every chapter puts its verdict on one."""
    import nbformat

    notebook = nbformat.read(path, 4)
    title = notebook.cells[0].source.splitlines()[0]
    first = [p for p in paragraphs(notebook.cells[0].source)[1:2] if fits_a_slide(p)]
    cells = [_cell(nbformat, "markdown", "\n\n".join([title, *first]), "slide")]
    if notes:
        cells.append(_cell(nbformat, "markdown", notes, "notes"))
    section, kinds = title.lstrip("# "), set()
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            section = cell.source.splitlines()[0].lstrip("# ")
        tag = tagged(cell)
        if tag is None:
            continue
        kinds.add(tag)
        if cell.cell_type == "markdown":
            # no formula (the deck loads no MathJax), no heading, no "**Next:**" (the deck's next column says it)
            blocks = [b for b in paragraphs(cell.source) if "$" not in b and not b.startswith(("#", "**Next:**"))]
            heading = (
                "What you learned"
                if tag == "slide-takeaway"
                else ("In this notebook you will" if tag == "slide-goal" else section)
            )
            for chunk in _chunks([b for b in blocks if tag != "slide-goal" or b.startswith("- ")]):
                cells.append(_cell(nbformat, "markdown", f"#### {heading}\n\n{chunk}", "subslide"))
            continue
        shown = (
            plot_outputs(cell, f"notebook {notebook_id(path.stem)}, {section}: a plot")
            if tag == "slide-figure"
            else result_outputs(cell)
        )
        if not shown:
            raise ValueError(
                f"{path.name}: a cell tagged {tag} (section {section!r}) has nothing to show: run the "
                "notebook, or move the tag to the cell that draws or prints the result."
            )
        cells.append(_cell(nbformat, "markdown", f"#### {section}", "subslide"))
        cells.append(_cell(nbformat, "code", "", "-", shown))
    if "slide-result" not in kinds:
        raise ValueError(f"{path.name} has no cell tagged slide-result: tag the cell that shows its verdict.")
    return cells


def deck_notebook(notebooks: list[Path], guide: str):
    """One notebook holding every slide: a title slide, then each notebook's (see :func:`notebook_slides`)."""
    import nbformat

    notes = facilitator_notes(guide)
    titles = "\n".join(
        f"{i}. {nbformat.read(p, 4).cells[0].source.splitlines()[0].lstrip('# ')}" for i, p in enumerate(notebooks, 1)
    )
    cover = (
        "# recft: a pretrained language model becomes a product recommender\n\n"
        f"The workshop's six steps, one notebook each:\n\n{titles}\n\n"
        "*Right arrow: the next notebook; down arrow: its sections and plots; S: speaker notes.*"
    )
    deck = nbformat.v4.new_notebook()
    deck.metadata["title"] = "recft workshop"
    deck.cells = [_cell(nbformat, "markdown", cover, "slide")]
    for path in notebooks:
        deck.cells += notebook_slides(path, notes.get(notebook_id(path.stem)))
    for number, cell in enumerate(deck.cells):  # the same ids on every build: a regenerated deck diffs cleanly
        cell.id = f"slide-cell-{number}"
    return deck


def render_deck(deck, reveal_prefix: str) -> str:
    """The deck as reveal.js HTML (inputs and prompts hidden), reveal.js loaded from ``reveal_prefix``."""
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        template_name="recft_slides",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        reveal_url_prefix=reveal_prefix,
        reveal_theme="white",
        reveal_transition="none",
        reveal_number="c/t",
    )
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
    parser = argparse.ArgumentParser(prog="python -m recft_utils.workshop.slides", description=__doc__.split("\n")[0])
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
