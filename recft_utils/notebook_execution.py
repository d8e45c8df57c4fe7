"""Execute one notebook with papermill in recft's Jupyter kernel, keeping what its reader needs.

The kernel ``recft`` is this environment's Python (:func:`install_kernel`); :func:`execute` runs a
notebook in it and writes the executed copy under a temporary name, renamed only on success. The
chain (:mod:`recft_utils.runner`) and the per-segment reports (:mod:`recft_utils.reporting.reports`)
both execute notebooks through it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from recft_utils.artefacts import display_path, write_json
from recft_utils.errors import RecftError

KERNEL_NAME = "recft"
# What every notebook after the first imports, and what takes its kernel seconds: TensorFlow, Keras, matplotlib.
WARM_IMPORTS = "import recft_utils.plots, recft_utils.models.two_tower"


# TensorFlow's C++ runtime logs to the process's stderr (oneDNN notices, "failed call to cuInit" on a
# machine without a GPU) and absl's logging ignores TF_CPP_MIN_LOG_LEVEL. ipykernel captures that file
# descriptor into the running cell's output by default; with this flag those lines go to the terminal
# that started JupyterLab (or papermill) instead, and a notebook shows only what Python prints.
KERNEL_ARGUMENTS = ("--IPKernelApp.capture_fd_output=False",)


def install_kernel(env: dict[str, str] | None = None) -> Path:
    """Register this environment's Python as the Jupyter kernel ``recft`` (in ``sys.prefix``), with
    :data:`KERNEL_ARGUMENTS` and ``env`` (variables every kernel gets); returns the kernelspec folder."""
    import json
    import sys

    from ipykernel.kernelspec import install

    folder = Path(install(kernel_name=KERNEL_NAME, display_name="Python (recft)", prefix=sys.prefix, env=env))
    spec = json.loads((folder / "kernel.json").read_text())
    spec["argv"] = [*spec["argv"], *(a for a in KERNEL_ARGUMENTS if a not in spec["argv"])]
    write_json(folder / "kernel.json", spec)
    return folder


def check_kernel() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL_NAME not in KernelSpecManager().find_kernel_specs():
        raise RecftError(
            f"The Jupyter kernel {KERNEL_NAME!r} is not registered. Run `make setup`, or "
            f"`recft install-kernel` in the recft environment."
        )


def kernel_manager():
    """A manager for one recft kernel that talks over IPC (Unix sockets) instead of TCP ports.

    With TCP, the client picks ports that are free *now* and the kernel binds them a moment later;
    a kernel started in parallel (another run, another test) can take one in between, and the kernel
    dies with "Address already in use". Sockets in the kernel's own runtime files cannot collide,
    and the kernel no longer warns about unencrypted TCP.
    """
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    # an absolute path: the kernel starts in the notebook's folder, the client does not (a socket path
    # has at most 107 characters, hence the short id)
    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    return AsyncKernelManager(
        kernel_name=KERNEL_NAME, transport="ipc", ip=str(runtime / f"recft-{uuid.uuid4().hex[:12]}")
    )


class WarmKernel:
    """A notebook's kernel, started while the notebook before it runs, with :data:`WARM_IMPORTS` done.

    A kernel takes about a second to start and TensorFlow three more to import, on one core: the
    chain does that on the other core while the previous notebook runs. The imports run silently (no
    execution count, no output, nothing in the history), so the notebook sees a fresh kernel whose
    imports are already loaded; its cells run exactly as they would in a cold one.
    """

    def __init__(self, cwd: Path):
        from jupyter_core.utils import run_sync

        self.manager = kernel_manager()
        run_sync(self.manager.start_kernel)(cwd=str(cwd))
        self._client = self.manager.client()
        self._client.start_channels()  # the request waits in the socket until the kernel listens
        self._client.execute(WARM_IMPORTS, silent=True, store_history=False)

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync

        self._client.stop_channels()
        run_sync(self.manager.shutdown_kernel)(now=True)  # services a notebook started stop with it


def execute(
    notebook: Path, output: Path, parameters: dict, progress: bool = True, kernel: WarmKernel | None = None
) -> Path:
    """Execute one notebook with papermill (in ``kernel``, or a new one); the output appears only on success."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.partial.ipynb")
    manager = kernel.manager if kernel else kernel_manager()  # papermill starts a kernel in it
    try:
        pm.execute_notebook(
            str(notebook),
            str(partial),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            progress_bar=progress,
            cwd=str(notebook.parent),
            report_mode=False,
            km=manager,
        )
    except pm.PapermillExecutionError as exc:
        failed = output.with_name(f"{output.stem}.failed.ipynb")
        os.replace(partial, failed)
        raise RecftError(
            f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"The executed notebook, with the error, is {failed}."
        ) from None
    finally:
        # a kernel papermill started in our manager is ours to stop, at once: a graceful shutdown only
        # waits a second or two for TensorFlow's exit
        if kernel is None and manager.has_kernel:
            from jupyter_core.utils import run_sync

            run_sync(manager.shutdown_kernel)(now=True)
    _clean_for_reading(partial, notebook, output)
    os.replace(partial, output)
    return output


PROGRESS_BAR = re.compile(r"^.*\d+%\|.*\| *[\d.]+[kM]?/[\d.?]+[kM]? \[.*$\n?", re.M)  # a tqdm line


def _clean_for_reading(executed: Path, notebook: Path, output: Path) -> None:
    """What an executed notebook keeps for its reader: papermill's input and output paths as
    :func:`~recft_utils.artefacts.display_path` shows them (committed notebooks carry no machine's
    folders), and no progress bars (they showed progress while it ran; the outputs show results)."""
    import nbformat

    book = nbformat.read(executed, 4)
    book.metadata.setdefault("papermill", {}).update(
        input_path=display_path(notebook), output_path=display_path(output)
    )
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["text"] = PROGRESS_BAR.sub("", out["text"].replace("\r", "\n"))
                if not out["text"].strip():
                    continue
            kept.append(out)
        cell.outputs = kept
    nbformat.write(book, executed)
