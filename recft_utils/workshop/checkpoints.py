"""Checkpoints: the artefacts the notebook after step N reads, made by executing the notebooks up to N.

A late-comer (or a learner whose step 3 failed) runs ``recft checkpoint --step 3``
and opens notebook 04 (``--step 3a`` makes the first part of step 3 and opens 03b).
The artefacts come from the code itself (the same
notebooks, executed with papermill), never from a stored copy that could
drift from it. Steps already complete in the run folder with the same
profile and dataset are kept, so a checkpoint only does the missing work.
"""

from __future__ import annotations

from pathlib import Path

from recft_utils.config import DEFAULT_PROFILE, default_run_dir
from recft_utils.run import STEPS, Run, notebook_id, steps_through


def next_notebook(step) -> str:
    """The notebook a learner opens after checkpoint ``step``: ``"04"`` after 3, ``"03b"`` after 3a."""
    return notebook_id(STEPS[len(steps_through(step))])


def is_complete(run_dir: Path, step: str, profile: str, dataset: str) -> bool:
    """Whether ``step`` finished in ``run_dir`` with this profile and dataset."""
    run = Run(run_dir)
    if run.manifest(step) is None:
        return False
    parameters = run.parameters_of(step)
    return parameters.get("profile") == profile and parameters.get("dataset", dataset) == dataset


def steps_to_run(run_dir: Path, step, profile: str, dataset: str) -> list[str]:
    """Notebook numbers to execute: from the first missing step up to checkpoint ``step`` (3, "3a", ...).

    Later steps read earlier ones, so everything after a missing step is redone.
    """
    wanted = steps_through(step)
    for first, name in enumerate(wanted):
        if not is_complete(run_dir, name, profile, dataset):
            return [notebook_id(s) for s in wanted[first:]]
    return []


def make_checkpoint(
    step,
    profile: str = DEFAULT_PROFILE,
    dataset: str = "online-retail",
    run_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, list[str]]:
    """Execute the notebooks up to checkpoint ``step`` (those not already done) into ``run_dir``.

    Returns the run folder and the notebook numbers executed. The default run
    folder (``$RECFT_RUN_DIR``, else ``runs/default``) is the one a notebook opened in JupyterLab uses.
    """
    from recft_utils.runner import run_chain  # papermill, only when something is executed

    run_dir = Path(run_dir) if run_dir else default_run_dir()
    if Path(dataset).is_file():  # the manifests record the absolute path the runner passes
        dataset = str(Path(dataset).resolve())
    todo = steps_to_run(run_dir, step, profile, dataset)
    if todo:
        run_chain(profile=profile, dataset=dataset, run_dir=run_dir, notebooks=todo, progress=progress)
    return run_dir, todo
