"""Execute the notebook chain with papermill, parameters checked first.

Each notebook is executed into ``<run_dir>/<notebook>.ipynb`` (written under a
temporary name, renamed when it succeeded) and writes its artefacts under
``<run_dir>/<step>/``. Parameters are checked against the notebooks'
``parameters`` cells before anything runs.
"""

from __future__ import annotations

from pathlib import Path

from recft_utils.artefacts import write_json
from recft_utils.config import DEFAULT_PROFILE, default_run_dir, project_root
from recft_utils.errors import ParameterError, RecftError
from recft_utils.notebook_execution import WarmKernel, check_kernel, execute
from recft_utils.run import STEPS, Run, notebook_id, provenance
from recft_utils.settings import resolve_settings

SETTINGS_PARAMETERS = ("dataset", "profile", "run_dir", "seed", "test_days", "valid_days", "data_end")


def notebook_dir() -> Path:
    return project_root() / "notebooks"


def discover_notebooks(folder: Path | None = None, select: list[str] | None = None) -> list[Path]:
    """The chain's notebooks (``01_requirements.ipynb`` ... one per step of :data:`~recft_utils.run.STEPS`)
    in order, optionally only some numbers (``"01"``, ``"3a"``, ``"03b"``; ``"03"`` is both parts of step 3)."""
    folder = folder or notebook_dir()
    found = [folder / f"{step}.ipynb" for step in STEPS if (folder / f"{step}.ipynb").is_file()]
    if not found:
        raise RecftError(
            f"No numbered notebooks in {folder}: the installed package carries the library, not the "
            f"tutorial; run this in a recft checkout (git clone) or an unpacked offline bundle."
        )
    if select:
        wanted = {s.strip().lower().zfill(3 if s.strip()[-1:].isalpha() else 2) for s in select}
        ids = {notebook_id(p.stem) for p in found}
        unknown = {w for w in wanted if not any(i == w or i[:2] == w for i in ids)}
        if unknown:
            raise ParameterError(f"Unknown notebook number(s) {sorted(unknown)}; available: {', '.join(sorted(ids))}.")
        found = [p for p in found if notebook_id(p.stem) in wanted or notebook_id(p.stem)[:2] in wanted]
    return found


def solution_notebooks(folder: Path | None = None) -> list[Path]:
    """The exercises' solution notebooks, ``notebooks/solutions/<step>_solutions.ipynb``, in step order."""
    solutions = (folder or notebook_dir()) / "solutions"
    return [
        solutions / f"{step}_solutions.ipynb" for step in STEPS if (solutions / f"{step}_solutions.ipynb").is_file()
    ]


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
            executed.append(execute(solution, Path(run_dir) / Run.EXERCISES / solution.name, parameters, progress))
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
            raise ParameterError(f"Unknown parameter {name!r}. The notebooks declare: {', '.join(sorted(declared))}.")
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


def run_chain(
    profile: str = DEFAULT_PROFILE,
    dataset: str = "online-retail",
    parameters: dict | None = None,
    run_dir: str | Path | None = None,
    notebooks: list[str] | None = None,
    in_place: bool = False,
    progress: bool = True,
    solutions: bool = False,
) -> Path:
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
        run_dir = Path(run_dir) if run_dir else default_run_dir()
        params = {"profile": profile, "dataset": dataset, **(parameters or {}), "run_dir": str(Path(run_dir).resolve())}
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
    write_json(
        run_dir / Run.CHAIN_RECORD,
        {
            "notebooks": [p.name for p in paths],
            "parameters": params,
            "profile": params.get("profile", DEFAULT_PROFILE),
            **provenance(),
        },
    )
    return run_dir
