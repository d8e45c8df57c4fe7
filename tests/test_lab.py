"""JupyterLab as a learner uses it: notebook 01 opened and run in a real (headless) browser.

``LabProcess`` starts ``jupyter lab`` the way ``make lab`` does (127.0.0.1, the ``recft`` kernel by
default) on a free port with a private token and private settings. The browser test opens a copy of
notebook 01 prepared by papermill (``profile=tiny``, ``run_dir`` under pytest's tmp_path, outputs
cleared), clicks Run > Run All Cells in Debian's Chromium driven by Playwright, waits until every
code cell has run, and checks the kernel, a known printed line, the plots and that nothing failed.

Chromium is Debian's (``/usr/bin/chromium``); Playwright never downloads a browser here. Without it
the test is skipped, unless ``RECFT_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from recft_utils.config import get_profile, project_root
from recft_utils.errors import RecftError
from recft_utils.workshop.lab import LabProcess

CHECKOUT = project_root(Path(__file__).resolve().parent)
NOTEBOOK = "01_requirements.ipynb"
KERNEL_DISPLAY_NAME = "Python (recft)"
# Debian's flags for a machine with no display and a closed network (see the machine notes);
# Playwright adds --headless and its own new, empty user-data-dir.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE_SECONDS = 90  # JupyterLab's page and the notebook's cells rendered
KERNEL_SECONDS = 120  # the kernel started and idle (2 cores, other tests running beside)
RUN_SECONDS = 420  # every cell of notebook 01 run on the tiny profile (about 20 s when the machine is free)


def chromium_executable() -> str:
    """Debian's chromium, or a skip (a failure where RECFT_REQUIRE_BROWSER=1) saying how to install it."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    message = (
        "The JupyterLab browser test needs Debian's Chromium, which is not installed: "
        "`sudo apt-get install chromium` (or `make browser` as root)."
    )
    if os.environ.get("RECFT_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " RECFT_REQUIRE_BROWSER=1 is set, so this is a failure, not a skip.")
    pytest.skip(message)


def processes_mentioning(text: str, seconds: float = 10) -> list[str]:
    """Command lines (Linux's /proc) that still hold ``text`` after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue  # gone meanwhile
            if text in line:
                found.append(line)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


# --- LabProcess on its own: seconds, no browser ---------------------------------------------------


def test_lab_process_answers_only_with_its_token_and_stops(tmp_path):
    with LabProcess(tmp_path) as lab:
        assert lab.status()["started"]
        specs = lab.api("kernelspecs")
        assert specs["default"] == "recft"
        assert specs["kernelspecs"]["recft"]["spec"]["display_name"] == KERNEL_DISPLAY_NAME
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{lab.url}/api/status", timeout=5)
        assert denied.value.code == 403
        private = lab.private_dir
        assert (private / "config" / "lab" / "user-settings").is_dir()  # not the user's settings
    assert lab.process.returncode is not None
    assert not private.exists()
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        lab.status()


def test_lab_process_that_does_not_answer_in_time_is_stopped_with_a_clear_error(tmp_path):
    lab = LabProcess(tmp_path, startup_seconds=0.1)
    with pytest.raises(RecftError, match=r"JupyterLab did not answer on .* within 0\.1 s"):
        lab.start()
    assert lab.process.poll() is not None
    assert not lab.private_dir.exists()


# --- notebook 01 in the browser -------------------------------------------------------------------


@pytest.fixture
def lab_folder(tmp_path, mirror_root):
    """JupyterLab's root: a git-ignored folder inside the checkout holding the prepared notebook.

    Inside the checkout because the kernel starts in the notebook's folder and
    ``project_root()`` finds the checkout from there; the run's artefacts go to tmp_path.
    """
    import nbformat
    import papermill

    folder = CHECKOUT / "runs" / f"lab-test-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    try:
        notebook = folder / NOTEBOOK
        papermill.execute_notebook(
            str(CHECKOUT / "notebooks" / NOTEBOOK),
            str(notebook),
            prepare_only=True,
            kernel_name="recft",
            parameters={"profile": "tiny", "run_dir": str(tmp_path / "run")},
            progress_bar=False,
        )
        prepared = nbformat.read(notebook, as_version=4)
        for cell in prepared.cells:  # the committed outputs must not pass for the browser's
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(prepared, notebook)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def lab_environment() -> dict:
    env = dict(os.environ)
    if env.get("RECFT_DATA_HOME"):  # the kernel's working directory is the notebook's folder
        env["RECFT_DATA_HOME"] = str(Path(env["RECFT_DATA_HOME"]).expanduser().resolve())
    env.pop("MPLBACKEND", None)  # ipykernel picks the inline backend only when none is set
    return env


# Error outputs render like stderr; IPython's tracebacks hold "Traceback" or "Cell In[" (a SyntaxError).
# `expected` code cells, all in the page (JupyterLab's default windowing keeps off-screen cells attached).
CELLS_STATE = """expected => {
  const stderr = [...document.querySelectorAll(
      '.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.textContent);
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
      .map(e => e.textContent.trim());
  const dialog = document.querySelector('.jp-Dialog');
  return {
    errors: stderr.filter(text => /Traceback|Cell In\\[|(^|\\n)\\w*(Error|Exception): /.test(text)),
    dialog: dialog ? dialog.textContent : null,
    prompts: prompts,
    done: prompts.length === expected && prompts.every(p => /^\\[\\d+\\]:$/.test(p)),
  };
}"""


def test_notebook_01_runs_in_jupyterlab_in_a_browser(lab_folder, tmp_path):
    chromium = chromium_executable()
    import nbformat
    from playwright.sync_api import expect, sync_playwright

    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(lab_folder / NOTEBOOK, as_version=4).cells)

    started = time.monotonic()
    screenshot = tmp_path / "lab-notebook-01.png"
    run_dir = tmp_path / "run"
    page_errors: list[str] = []
    with LabProcess(lab_folder, env=lab_environment()) as lab, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2200})
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            try:
                page.goto(lab.lab_url(NOTEBOOK), timeout=PAGE_SECONDS * 1000)
                notebook = page.locator(".jp-NotebookPanel").filter(has=page.locator(".jp-Notebook"))
                notebook.locator(".jp-CodeCell").first.wait_for(timeout=PAGE_SECONDS * 1000)

                # The notebook names the recft kernel; JupyterLab starts it and shows its name.
                # The status bar reads "Python (recft) | Idle" once the kernel has started.
                expect(notebook.locator(".jp-Toolbar-kernelName")).to_have_text(
                    KERNEL_DISPLAY_NAME, timeout=KERNEL_SECONDS * 1000
                )
                status_bar = page.locator(".jp-StatusBar-Widget")
                expect(status_bar).to_contain_text(f"{KERNEL_DISPLAY_NAME} | Idle", timeout=KERNEL_SECONDS * 1000)
                indicator = notebook.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
                indicator.wait_for(timeout=KERNEL_SECONDS * 1000)
                sessions = lab.api("sessions")
                assert [s["kernel"]["name"] for s in sessions] == ["recft"], sessions

                # Run > Run All Cells, as a learner does.
                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
                page.locator('.lm-Menu-item[data-command="runmenu:run-all"]', has_text="Run All Cells").click()
                # Until every code cell has its number, or an error or a dialog (the kernel died) shows.
                page.wait_for_function(
                    f"n => {{ const s = ({CELLS_STATE})(n); return s.done || s.errors.length || s.dialog; }}",
                    arg=code_cells,
                    timeout=RUN_SECONDS * 1000,
                    polling=500,
                )
                if page.evaluate(CELLS_STATE, code_cells)["done"]:  # then the last outputs, and the kernel idle again
                    indicator.wait_for(timeout=KERNEL_SECONDS * 1000)
                    expect(status_bar).to_contain_text(f"{KERNEL_DISPLAY_NAME} | Idle", timeout=KERNEL_SECONDS * 1000)
                state = page.evaluate(CELLS_STATE, code_cells)
                # (c) no error output, no dialog, every cell run
                assert not state["errors"], "a cell failed:\n" + "\n".join(state["errors"])[-3000:]
                assert state["dialog"] is None, f"JupyterLab shows a dialog: {state['dialog']}"
                assert state["done"], f"{code_cells} code cells; prompts: {state['prompts']}"

                # (a) the tiny profile's line, and the artefacts in tmp_path, not in runs/default
                outputs = notebook.locator(".jp-OutputArea-output")
                printed = "\n".join(outputs.all_text_contents())
                assert f"profile tiny: {get_profile('tiny').description}" in printed
                assert f"artefacts go to {run_dir / '01_requirements'}" in printed
                protocol = json.loads((run_dir / "01_requirements" / "protocol.json").read_text())
                assert protocol["profile"] == "tiny"
                # (b) the plots, rendered inline as PNG
                plots = notebook.locator('.jp-OutputArea-output img[src^="data:image/png"]')
                assert plots.count() >= 4, f"{plots.count()} PNG plots in the outputs"

                # The screenshot starts at the cell that printed the tiny profile's line; plots below it.
                notebook.locator(".jp-CodeCell", has_text="profile tiny: smoke test").first.evaluate(
                    "e => e.scrollIntoView({block: 'start'})"
                )
                page.screenshot(path=str(screenshot), full_page=True)
            except BaseException:
                failure = tmp_path / "lab-notebook-01-failure.png"
                try:
                    page.screenshot(path=str(failure), full_page=True)
                except Exception as error:  # the browser itself failed: the log below says more
                    failure = f"none ({error})"
                print(
                    f"\nscreenshot of the failure: {failure}\npage errors: {page_errors}\n"
                    f"JupyterLab's log (end):\n{lab.output()[-4000:]}"
                )
                raise
        finally:
            browser.close()
    assert not processes_mentioning(str(lab.private_dir)), "the kernel outlived JupyterLab"
    print(f"\nscreenshot: {screenshot}\nnotebook 01 in JupyterLab: {time.monotonic() - started:.1f} s")


# --- the workshop deck in the browser --------------------------------------------------------------


def test_slide_deck_opens_offline_in_a_browser(tmp_path):
    """docs/slides.html from file://, every request outside the checkout refused: reveal.js starts, every
    slide is there, its plots render, the arrows move through it and the speaker notes are attached."""
    chromium = chromium_executable()
    from playwright.sync_api import sync_playwright

    from recft_utils.runner import discover_notebooks
    from recft_utils.workshop import slides

    deck = slides.deck_notebook(discover_notebooks(), (CHECKOUT / "docs" / "facilitator.md").read_text())
    expected = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for c in deck.cells)
    columns = sum(c.metadata["slideshow"]["slide_type"] == "slide" for c in deck.cells)
    refused, page_errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.route(
                re.compile(r"^(?!file:|data:)"), lambda route: (refused.append(route.request.url), route.abort())
            )
            page.goto(slides.deck_path(CHECKOUT).as_uri(), timeout=PAGE_SECONDS * 1000)
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=PAGE_SECONDS * 1000)
            assert page.evaluate("Reveal.getTotalSlides()") == expected
            assert page.evaluate("Reveal.getHorizontalSlides().length") == columns
            assert page.locator("aside.notes").count() == len(discover_notebooks())
            page.keyboard.press("ArrowRight")  # to notebook 01, then down into its sections and plots
            assert page.evaluate("Reveal.getIndices().h") == 1
            plots = page.locator(".reveal img[src^='data:image/png']")
            assert plots.count() > 0
            broken = page.evaluate(
                "[...document.querySelectorAll('.reveal img')].filter(i => !i.complete || i.naturalWidth === 0).length"
            )
            assert broken == 0
            for _ in range(3):
                page.keyboard.press("ArrowDown")
            assert page.evaluate("Reveal.getIndices().v") == 3
            page.screenshot(path=str(tmp_path / "slides.png"))
        finally:
            browser.close()
    assert not page_errors, page_errors
    assert not refused, f"the deck asked the network for {refused}"
    print(f"\nscreenshot: {tmp_path / 'slides.png'}; {expected} slides in {columns} columns")
