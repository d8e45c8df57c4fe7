"""The committed notebooks' outputs hold what the notebooks print, not the machinery's noise.

Each pattern names a source that leaked into cells before, and where it is now stopped:

- TensorFlow's C++ and absl log lines ("failed call to cuInit", oneDNN notices): the recft kernel
  is registered with ``capture_fd_output=False`` (``notebook_execution.KERNEL_ARGUMENTS``);
- tqdm's IProgress warning: filtered in ``recft_utils/__init__.py``;
- the child kernels' "running over TCP without encryption" warning (reports): the same kernel flag, and
  recft's kernels talk over IPC, not TCP (``notebook_execution.kernel_manager``);
- a stray repr of a returned path: a cell ends with ``;`` when its last call returns a path;
- a machine's folders (``/home/...``, ``/work/...``, ``C:\\Users``) in outputs or in papermill's metadata:
  ``artefacts.display_path`` shows paths inside the checkout relative to it, and the runner writes
  papermill's input and output paths that way (``notebook_execution._clean_for_reading``);
- tqdm's progress bars: the runner drops them from executed notebooks (the same function).
"""

import json
import re
from pathlib import Path

import pytest

from recft_utils.runner import discover_notebooks

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOISE = {
    "TensorFlow/absl log line": re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]", re.MULTILINE),
    "absl start-up notice": re.compile(r"All log messages before absl::InitializeLog"),
    "CUDA initialisation error": re.compile(r"cuInit"),
    "tqdm IProgress warning": re.compile(r"TqdmWarning|IProgress not found"),
    "kernel transport warning": re.compile(r"running over TCP without encryption"),
    "stray path repr": re.compile(r"PosixPath\("),
    "a machine's folder": re.compile(
        r"(?<![\w.~-])/(?:home|Users|work|root|tmp|mnt|opt|srv|var|private)/|\b[A-Z]:\\\\"
    ),
    "progress bar": re.compile(r"\d+%\|[^|\n]*\| *[\d.]+[kM]?/[\d.?]+[kM]? \["),
}


def committed_notebooks() -> list[Path]:
    return discover_notebooks(NOTEBOOKS) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))


def output_texts(cell: dict):
    for output in cell.get("outputs", []):
        yield "".join(output.get("text", ""))
        for kind in ("text/plain", "text/html", "text/markdown"):
            yield "".join(output.get("data", {}).get(kind, ""))


def noise_in(notebook: Path) -> list[str]:
    book = json.loads(notebook.read_text())
    papermill = json.dumps(book.get("metadata", {}).get("papermill", {}))
    found = [f"{notebook.name}, metadata: {name}" for name in ("a machine's folder",) if NOISE[name].search(papermill)]
    for index, cell in enumerate(book["cells"]):
        for text in output_texts(cell):
            found += [
                f"{notebook.name}, cell {index}: {name}" for name, pattern in NOISE.items() if pattern.search(text)
            ]
    return found


@pytest.mark.parametrize("notebook", committed_notebooks(), ids=lambda p: p.name)
def test_committed_outputs_hold_no_noise(notebook):
    assert noise_in(notebook) == []


def test_the_check_finds_each_kind_of_noise(tmp_path):
    lines = [
        "E0000 00:00:1796162050.539432   26238 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)",
        "I0000 00:00:1796161467.791471   23398 port.cc:153] oneDNN custom operations are on.",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "tqdm/auto.py:21: TqdmWarning: IProgress not found. Please update jupyter and ipywidgets.",
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption.",
    ]
    cells = [
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stderr", "text": [line]}]}
        for line in lines
    ]
    cells.append(
        {
            "cell_type": "code",
            "outputs": [{"output_type": "execute_result", "data": {"text/plain": ["PosixPath('runs/x.parquet')"]}}],
        }
    )
    cells.append(
        {
            "cell_type": "code",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["I0000 customers, 2011-12-09 00:00:00"]}],
        }
    )  # data: fine
    for text in (
        "artefacts go to /work/main/runs/default/01_requirements",
        "months:  25%|██▌       | 1/4 [00:12<00:36]",
        "artefacts go to runs/default/01_requirements; 1/4 of the data",
    ):  # the last: fine
        cells.append({"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": [text]}]})
    notebook = tmp_path / "01_x.ipynb"
    notebook.write_text(json.dumps({"cells": cells, "metadata": {"papermill": {"input_path": "/home/me/x.ipynb"}}}))
    found = noise_in(notebook)
    assert len(found) == 10 and not any("cell 6" in f or "cell 9" in f for f in found), found
    assert "01_x.ipynb, metadata: a machine's folder" in found
