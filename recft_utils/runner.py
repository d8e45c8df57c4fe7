"""Execute the notebook chain with papermill, parameters checked first.

Each notebook is executed into ``<run_dir>/<notebook>.ipynb`` (written under a
temporary name, renamed when it succeeded) and writes its artefacts under
``<run_dir>/<step>/``. Parameters are checked against the notebooks'
``parameters`` cells before anything runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from recft_utils.artefacts import display_path, write_json
from recft_utils.config import DEFAULT_PROFILE, default_run_dir, project_root, resolve_settings
from recft_utils.errors import ParameterError, RecftError
from recft_utils.run import STEPS, notebook_id, provenance

KERNEL_NAME = "recft"
# What every notebook after the first imports, and what takes its kernel seconds: TensorFlow, Keras, matplotlib.
WARM_IMPORTS = "import recft_utils.plots, recft_utils.models.two_tower"
SETTINGS_PARAMETERS = ("dataset", "profile", "run_dir", "seed", "test_days", "valid_days", "data_end")


def notebook_dir() -> Path:
    return project_root() / "notebooks"


def discover_notebooks(folder: Path | None = None, select: list[str] | None = None) -> list[Path]:
    """The chain's notebooks (``01_requirements.ipynb`` ... one per step of :data:`~recft_utils.run.STEPS`)
    in order, optionally only some numbers (``"01"``, ``"3a"``, ``"03b"``; ``"03"`` is both parts of step 3)."""
    folder = folder or notebook_dir()
    found = [folder / f"{step}.ipynb" for step in STEPS if (folder / f"{step}.ipynb").is_file()]
    if not found:
        raise RecftError(f"No numbered notebooks in {folder}; run from a recft checkout.")
    if select:
        wanted = {s.strip().lower().zfill(3 if s.strip()[-1:].isalpha() else 2) for s in select}
        ids = {notebook_id(p.stem) for p in found}
        unknown = {w for w in wanted if not any(i == w or i[:2] == w for i in ids)}
        if unknown:
            raise ParameterError(
                f"Unknown notebook number(s) {sorted(unknown)}; available: {', '.join(sorted(ids))}."
            )
        found = [p for p in found if notebook_id(p.stem) in wanted or notebook_id(p.stem)[:2] in wanted]
    return found


def solution_notebooks(folder: Path | None = None) -> list[Path]:
    """The exercises' solution notebooks, ``notebooks/solutions/<step>_solutions.ipynb``, in step order."""
    solutions = (folder or notebook_dir()) / "solutions"
    return [solutions / f"{step}_solutions.ipynb" for step in STEPS if (solutions / f"{step}_solutions.ipynb").is_file()]


def run_solutions(run_dir: Path, profile: str, in_place: bool = False, progress: bool = True) -> list[Path]:
    """Execute every solution notebook on the run in ``run_dir``. ``in_place``: over the sources, with their
    own defaults (the default run folder, the workshop profile), as ``make notebooks`` commits them; else
    into ``run_dir/exercises/``, with ``run_dir`` and ``profile`` as parameters."""
    executed = []
    for solution in solution_notebooks():
        if in_place:
            executed.append(execute(solution, solution, {}, progress))
        else:
            parameters = {"run_dir": str(Path(run_dir).resolve()), "profile": profile}
            executed.append(execute(solution, Path(run_dir) / "exercises" / solution.name, parameters, progress))
    return executed


def parse_value(text: str):
    """Turn a command-line ``-p name value`` into int, float, bool, None or str (as papermill does)."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool}


def check_parameters(notebooks: list[Path], parameters: dict) -> None:
    """Refuse parameters no notebook declares, or of the wrong type."""
    import papermill as pm

    declared: dict[str, str] = {}
    for notebook in notebooks:
        for name, info in pm.inspect_notebook(str(notebook)).items():
            declared.setdefault(name, info["inferred_type_name"])
    for name, value in parameters.items():
        if name not in declared:
            raise ParameterError(
                f"Unknown parameter {name!r}. The notebooks declare: {', '.join(sorted(declared))}."
            )
        expected = _TYPES.get(declared[name])
        wrong_bool = isinstance(value, bool) and declared[name] != "bool"
        if expected and (wrong_bool or not isinstance(value, expected)):
            raise ParameterError(
                f"Parameter {name} must be of type {declared[name]}, got {value!r} "
                f"({type(value).__name__}); e.g. `-p {name} <{declared[name]}>`."
            )


def preflight(parameters: dict) -> None:
    """Cheap checks that stop a run before any heavy work: settings, data source, kernel."""
    from recft_utils.datasets import is_synthetic, online_retail
    from recft_utils.datasets.interactions import read_interactions_file

    settings = resolve_settings(**{k: v for k, v in parameters.items() if k in SETTINGS_PARAMETERS})
    if settings.dataset == "online-retail":
        online_retail.check_mirror()
    elif not is_synthetic(settings.dataset):  # a synthetic spec was checked by resolve_settings
        read_interactions_file(settings.dataset)
    if "item_model" in parameters:
        from recft_utils.models.item_to_item import check_item_model

        check_item_model(parameters["item_model"])
    if "strategy" in parameters:
        from recft_utils.models.distribute import check_strategy

        check_strategy(parameters["strategy"])
    check_kernel()


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


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


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
    return AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(runtime / f"recft-{uuid.uuid4().hex[:12]}"))


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


def execute(notebook: Path, output: Path, parameters: dict, progress: bool = True,
            kernel: WarmKernel | None = None) -> Path:
    """Execute one notebook with papermill (in ``kernel``, or a new one); the output appears only on success."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.partial.ipynb")
    manager = kernel.manager if kernel else kernel_manager()  # papermill starts a kernel in it
    try:
        pm.execute_notebook(
            str(notebook), str(partial), parameters=parameters, kernel_name=KERNEL_NAME,
            progress_bar=progress, cwd=str(notebook.parent), report_mode=False, km=manager,
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
    book.metadata.setdefault("papermill", {}).update(input_path=display_path(notebook), output_path=display_path(output))
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


def run_chain(profile: str = DEFAULT_PROFILE, dataset: str = "online-retail", parameters: dict | None = None,
              run_dir: str | Path | None = None, notebooks: list[str] | None = None,
              in_place: bool = False, progress: bool = True, solutions: bool = False) -> Path:
    """Execute the numbered notebooks in order (then, with ``solutions``, the solution notebooks on the
    run: :func:`run_solutions`); return the run folder.

    ``in_place`` writes the executed notebooks over the sources in
    ``notebooks/`` without injecting parameters: that is how the committed
    outputs are regenerated (``make notebooks``), with the notebooks' defaults.
    """
    paths = discover_notebooks(select=notebooks)
    if in_place:
        # the notebooks' own defaults: run_dir "" means the default run folder, as here
        run_dir, params = default_run_dir(), {}
    else:
        run_dir = Path(run_dir) if run_dir else project_root() / "runs" / new_run_id()
        params = {"profile": profile, "dataset": dataset, **(parameters or {}),
                  "run_dir": str(Path(run_dir).resolve())}
        if Path(params["dataset"]).is_file():  # the kernel runs in notebooks/, so make it absolute
            params["dataset"] = str(Path(params["dataset"]).resolve())
        check_parameters(paths, params)
    preflight(params)
    run_dir.mkdir(parents=True, exist_ok=True)
    upcoming = None
    try:
        for index, notebook in enumerate(paths):
            kernel, upcoming = upcoming, None
            if index + 1 < len(paths):
                upcoming = WarmKernel(paths[index + 1].parent)
            try:
                execute(notebook, notebook if in_place else run_dir / notebook.name, params, progress, kernel)
            finally:
                if kernel is not None:
                    kernel.shutdown()
    finally:
        if upcoming is not None:  # a notebook failed: the next one's kernel is not needed
            upcoming.shutdown()
    if solutions:
        run_solutions(run_dir, params.get("profile", DEFAULT_PROFILE), in_place, progress)
    write_json(run_dir / "run.json", {"notebooks": [p.name for p in paths], "parameters": params,
                                      "profile": params.get("profile", DEFAULT_PROFILE), **provenance()})
    return run_dir
