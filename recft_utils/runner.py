"""Execute the notebook chain with papermill, parameters checked first.

Each notebook is executed into ``<run_dir>/<notebook>.ipynb`` (written under a
temporary name, renamed when it succeeded) and writes its artefacts under
``<run_dir>/<step>/``. Parameters are checked against the notebooks'
``parameters`` cells before anything runs.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from recft_utils.artefacts import write_json
from recft_utils.config import DEFAULT_PROFILE, default_run_dir, project_root, resolve_settings
from recft_utils.errors import ParameterError, RecftError
from recft_utils.run import provenance

KERNEL_NAME = "recft"
SETTINGS_PARAMETERS = ("dataset", "profile", "run_dir", "seed", "test_days", "valid_days", "data_end")


def notebook_dir() -> Path:
    return project_root() / "notebooks"


def discover_notebooks(folder: Path | None = None, select: list[str] | None = None) -> list[Path]:
    """The numbered notebooks ``NN_*.ipynb`` in order, optionally only some numbers."""
    folder = folder or notebook_dir()
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise RecftError(f"No numbered notebooks in {folder}; run from a recft checkout.")
    if select:
        wanted = {s.zfill(2) for s in select}
        unknown = wanted - {p.name[:2] for p in found}
        if unknown:
            raise ParameterError(
                f"Unknown notebook number(s) {sorted(unknown)}; available: "
                f"{', '.join(p.name[:2] for p in found)}."
            )
        found = [p for p in found if p.name[:2] in wanted]
    return found


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
    if "strategy" in parameters:
        from recft_utils.models.distribute import check_strategy

        check_strategy(parameters["strategy"])
    check_kernel()


def check_kernel() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL_NAME not in KernelSpecManager().find_kernel_specs():
        raise RecftError(
            f"The Jupyter kernel {KERNEL_NAME!r} is not registered. Run `make setup`, or "
            f"`python -m ipykernel install --sys-prefix --name {KERNEL_NAME}` in the recft environment."
        )


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def execute(notebook: Path, output: Path, parameters: dict, progress: bool = True) -> Path:
    """Execute one notebook with papermill; the output appears only on success."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.partial.ipynb")
    try:
        pm.execute_notebook(
            str(notebook), str(partial), parameters=parameters, kernel_name=KERNEL_NAME,
            progress_bar=progress, cwd=str(notebook.parent), report_mode=False,
        )
    except pm.PapermillExecutionError as exc:
        failed = output.with_name(f"{output.stem}.failed.ipynb")
        os.replace(partial, failed)
        raise RecftError(
            f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"The executed notebook, with the error, is {failed}."
        ) from None
    os.replace(partial, output)
    return output


def run_chain(profile: str = DEFAULT_PROFILE, dataset: str = "online-retail", parameters: dict | None = None,
              run_dir: str | Path | None = None, notebooks: list[str] | None = None,
              in_place: bool = False, progress: bool = True) -> Path:
    """Execute the numbered notebooks in order; return the run folder.

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
    for notebook in paths:
        execute(notebook, notebook if in_place else run_dir / notebook.name, params, progress)
    write_json(run_dir / "run.json", {"notebooks": [p.name for p in paths], "parameters": params,
                                      "profile": params.get("profile", DEFAULT_PROFILE), **provenance()})
    return run_dir
