"""The run folder: one place that knows its steps, its file names and when a step is complete.

A run is a folder with one sub-folder per step (``01_requirements`` ...
``06_iteration``; step 3 is read in two parts, ``03a_two_tower`` and ``03b_fine_tuning``). Notebook
``<step>.ipynb`` writes the folder ``<step>`` and ends by writing its ``manifest.json``: a step is
complete exactly when its manifest exists, and a later step reads only complete steps. Every other module
and notebook reads a run through :class:`Run`::

    run = Run(settings.run_dir)
    out = run.start("03b_fine_tuning", settings)  # steps 01-03a complete, with these parameters
    interactions, split = run.interactions(), run.split()
    ...
    run.finish("03b_fine_tuning", settings.as_dict())  # the manifest, last

Files that a later step reads are named by the attributes below; a file only its
own notebook reads (a plot, a table shown once) keeps its literal name there.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.artefacts import read_item_vectors, read_json, sha256_file, write_json
from recft_utils.config import default_run_dir, project_root
from recft_utils.errors import MissingArtefactError, ParameterError
from recft_utils.evaluation.split import TemporalSplit
from recft_utils.run_figures import StepFigures, check_figures

# Notebook <step>.ipynb writes the folder <step>, in this order. Step 3 has two parts (3a, 3b), each
# one sitting's read; a checkpoint "3" means both.
STEPS = (
    "01_requirements",
    "02_data_preparation",
    "03a_two_tower",
    "03b_fine_tuning",
    "04_serving",
    "05_collaboration",
    "06_iteration",
)
MANIFEST = "manifest.json"
# Bumped when a file a later step reads is renamed or changes shape: a manifest of another
# layout is refused with the command that recreates the step, instead of a KeyError later.
LAYOUT = 3  # 3: step 3 in two parts
# Packages whose versions decide a run's numbers; recorded in every manifest and run.json.
RECORDED_PACKAGES = ("recft", "tensorflow", "keras", "keras-hub", "numpy", "pandas", "scipy", "papermill")


def notebook_id(step: str) -> str:
    """The number a step's notebook starts with: ``"03a"`` for ``03a_two_tower``."""
    return step.split("_", 1)[0]


def checkpoint_label(step: str) -> str:
    """What ``recft checkpoint --step`` calls the checkpoint that ends with ``step``: ``"3a"``, ``"3"``."""
    label = notebook_id(step).lstrip("0")
    last_part = step == STEPS[-1] or notebook_id(STEPS[STEPS.index(step) + 1])[:2] != notebook_id(step)[:2]
    return label.rstrip("ab") if last_part else label  # the last part of step 3 completes step 3


def steps_through(label) -> tuple[str, ...]:
    """The steps a checkpoint ``label`` makes: ``3`` (or ``"3b"``) is 01 to 03b, ``"3a"`` is 01 to 03a.

    Refused, with the labels there are, for anything else (a checkpoint after the last step opens nothing).
    """
    labels = {checkpoint_label(step): index for index, step in enumerate(STEPS[:-1])}
    labels.update({notebook_id(step).lstrip("0"): index for index, step in enumerate(STEPS[:-1])})
    key = str(label).strip().lower().lstrip("0") if not isinstance(label, bool) else None
    if key not in labels:
        shown = ", ".join(dict.fromkeys(checkpoint_label(step) for step in STEPS[:-1]))
        raise ParameterError(
            f"--step must be one of {shown} (the step done; you open the notebook after it), got {label!r}."
        )
    return STEPS[: labels[key] + 1]


def how_to_create(run_dir, step: str) -> str:
    """How to make the steps up to ``step`` in ``run_dir``: the end of a missing-input message."""
    label, last = checkpoint_label(step), notebook_id(step)
    notebooks = "notebook 01" if step == STEPS[0] else f"notebooks 01 to {last}"
    return (
        f"`recft checkpoint --step {label} --run-dir {Path(run_dir)}` (or `make checkpoint STEP={label}`; "
        f"add `--profile tiny` for the quick version), or run {notebooks} first with the same run_dir."
    )


def git_commit(folder: Path | None = None) -> str | None:
    """The checkout's commit (with ``+changes`` when the work tree differs), or None outside a recft checkout."""
    folder = folder or project_root()
    if not (folder / "recft_utils").is_dir():  # an installed package: any repository here is someone else's
        return None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if dirty else "")


def provenance() -> dict:
    """What made a run: the Python and package versions, and the git commit of the code."""
    versions = {}
    for package in RECORDED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "packages": versions, "git_commit": git_commit()}


def check_protocol(
    protocol: dict, test_days: int, valid_days: int, dataset: str, data_end: str | None = None
) -> TemporalSplit:
    """The split step 1 chose; refuse parameters that contradict it (``data_end``: checked when given)."""
    checks = [("test_days", test_days), ("valid_days", valid_days), ("dataset", dataset)]
    if data_end is not None:
        checks.append(("data_end", data_end))
    for name, value in checks:
        if protocol.get(name, "" if name == "data_end" else None) != value:
            raise ParameterError(
                f"Step 01 of this run used {name}={protocol.get(name)!r} but this notebook got "
                f"{value!r}. Run both with the same value (or use a new run_dir)."
            )
    return TemporalSplit.from_dict(protocol)


class Run:
    """A run folder: its steps, the files later steps read, and the manifests that mark steps complete."""

    # step 01
    PROTOCOL = "protocol.json"
    BASELINES = "baselines.parquet"
    ITEM_MODEL = "item_model.json"  # the item-to-item model this shop affords, and why
    # step 02
    INTERACTIONS = "interactions.parquet"
    ITEMS = "items.parquet"
    AUGMENTED_TITLES = "augmented_titles.parquet"
    # step 03a: the frozen encoder's title vectors and the frozen-encoder two-tower models 03b starts from
    ITEM_VECTORS = "item_vectors.parquet"
    BASE_MODELS = "base_models.parquet"  # BERT or GPT: each base model's cost, with the committed quality
    FROZEN_MODELS = "frozen_models.json"  # settings, chosen epochs, blend weight; one .keras file per model
    RECORDS = "records.parquet"  # the test-window results of the models 03a trained
    # step 03b: the served model and its settings
    MODEL_CONFIG = "two_tower_config.json"
    MODEL_WEIGHTS = "two_tower.keras"
    TEXT_ENCODER = "text_encoder"  # the encoder (and tokenizer) that made the served model's item vectors
    ITEM_INDEX = "item_index.parquet"  # the catalogue in the model's row order, warm or new
    SERVED_CHOICE = "served_choice.json"
    # step 04
    EXPORTED_MODEL = "model"
    REPLAY_COMPARISON = "replay_comparison.json"  # step 4's offline replay: served model against the bar
    # step 05: the tables the stakeholder reports read, and the reports' folder (`recft reports` too)
    REPORT_TABLES = ("customers", "recommendations", "purchases")
    REPORTS = "reports"
    # step 06: the model registry its simulation fills (`recft retrain` adds to it)
    REGISTRY = "registry"
    # every step: the figures its text and the documents quote
    FIGURES = "figures.json"
    # the run folder itself, when `recft run` made it: what it executed, and the solutions it ran on it
    CHAIN_RECORD = "run.json"
    EXERCISES = "exercises"

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else default_run_dir()

    def __repr__(self) -> str:
        return f"Run({str(self.folder)!r})"

    # --- steps -------------------------------------------------------------------------------

    @staticmethod
    def check_step(step: str) -> str:
        """``step`` itself, or an error listing the step names."""
        if step not in STEPS:
            raise ParameterError(f"Unknown step {step!r}; the steps are {', '.join(STEPS)}.")
        return step

    def path(self, step: str, name: str = "") -> Path:
        """The path of ``name`` in ``step``'s folder (the folder itself without ``name``); creates nothing."""
        return self.folder / self.check_step(step) / name if name else self.folder / self.check_step(step)

    def manifest(self, step: str) -> dict | None:
        """The step's manifest, or None while the step is not complete."""
        path = self.path(step, MANIFEST)
        if not path.is_file():
            return None
        manifest = read_json(path)
        if manifest.get("layout") != LAYOUT:
            raise MissingArtefactError(
                f"{self.path(step)} was written by an older recft (run-folder layout "
                f"{manifest.get('layout', 1)}; this version reads layout {LAYOUT}). Recreate it with "
                f"{how_to_create(self.folder, step)} in a new run folder, or delete {self.path(step)}."
            )
        return manifest

    def complete_steps(self) -> dict[str, str | None]:
        """The complete steps, in order, each with the profile it was made with."""
        done = {}
        for step in STEPS:
            manifest = self.manifest(step)
            if manifest is not None:
                done[step] = manifest.get("parameters", {}).get("profile")
        return done

    def profile_of(self, step: str) -> str | None:
        """The profile a complete step was made with (an error naming the fix when it is not complete)."""
        return self.parameters_of(step).get("profile")

    def parameters_of(self, step: str) -> dict:
        """The parameters a complete step was made with."""
        self.require(step)
        return self.manifest(step).get("parameters", {})

    def require(self, step: str) -> Path:
        """A complete step's folder, or an error naming the command that creates it."""
        if self.manifest(step) is None:
            raise MissingArtefactError(
                f"{self.path(step)} is missing or incomplete (no {MANIFEST}): this reads the artefacts of "
                f"step {step}. Create them with {how_to_create(self.folder, step)}"
            )
        return self.path(step)

    def require_before(self, step: str, profile: str | None = None) -> None:
        """Check that every step before ``step`` is complete, and (with ``profile``) made with that profile.

        The rule a workshop can remember: to open a notebook, make the checkpoint of the step before it.
        The message names that one command, not one missing folder at a time; a
        ``tiny`` checkpoint read by a ``workshop`` notebook would mix sizes.
        """
        number = STEPS.index(self.check_step(step))
        missing = [s for s in STEPS[:number] if self.manifest(s) is None]
        if missing:
            raise MissingArtefactError(
                f"Notebook {step} reads the artefacts of the steps before it, and {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing in {self.folder}. Create them from the code with "
                f"{how_to_create(self.folder, STEPS[number - 1])}"
            )
        for earlier in STEPS[:number] if profile is not None else ():
            made_with = self.manifest(earlier).get("parameters", {}).get("profile")
            if made_with not in (None, profile):
                raise MissingArtefactError(
                    f"{self.path(earlier)} was made with profile {made_with!r}, but this notebook runs with "
                    f"{profile!r}. Set profile = {made_with!r} in the parameters cell, or recreate the steps with "
                    f"`recft checkpoint --step {checkpoint_label(STEPS[number - 1])} --profile {profile} "
                    f"--run-dir {self.folder}`."
                )

    def start(self, step: str, settings=None, data_end: str | None = None) -> Path:
        """Open ``step`` for writing and return its (created) folder: the one call a notebook starts with.

        The earlier steps must be complete; with ``settings`` (a notebook's
        :class:`~recft_utils.settings.Settings`) they must have been made with the
        same profile, and step 1's split with the same windows and dataset
        (``data_end`` too, when given). An old manifest of ``step`` is removed
        first, so a step that fails half-way is incomplete rather than passing
        for the previous, finished one.
        """
        self.require_before(step, None if settings is None else settings.profile.name)
        if settings is not None and step != STEPS[0]:
            self.split(settings, data_end)
        folder = self.path(step)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)
        return folder

    def finish(self, step: str, parameters: dict) -> Path:
        """Mark ``step`` complete: its manifest lists every file (size, sha256), the parameters and provenance."""
        folder = self.path(step)
        files = {
            p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(folder.iterdir())
            if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")
        }
        return write_json(
            folder / MANIFEST, {"layout": LAYOUT, "parameters": parameters, "files": files, "provenance": provenance()}
        )

    # --- readers for later steps --------------------------------------------------------------

    def file(self, step: str, name: str) -> Path:
        """The path of a file of a complete step (refused, with how to recreate it, when it is missing)."""
        path = self.require(step) / name
        if not path.exists():
            raise MissingArtefactError(
                f"{path} is missing although {step} is complete: the folder was changed by "
                f"hand. Recreate the step with {how_to_create(self.folder, step)}"
            )
        return path

    def read(self, step: str, name: str):
        """A file of a complete step: JSON as data, parquet as a DataFrame, anything else as its path."""
        path = self.file(step, name)
        if path.suffix == ".json":
            return read_json(path)
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return path

    def protocol(self) -> dict:
        return self.read("01_requirements", self.PROTOCOL)

    def split(self, settings=None, data_end: str | None = None):
        """Step 1's temporal split; with ``settings``, refused when the notebook's windows or dataset
        (and ``data_end``, when given) differ from step 1's."""
        protocol = self.protocol()
        if settings is None:
            return TemporalSplit.from_dict(protocol)
        return check_protocol(protocol, settings.test_days, settings.valid_days, settings.dataset, data_end)

    def interactions(self) -> pd.DataFrame:
        return self.read("02_data_preparation", self.INTERACTIONS)

    def titles(self) -> pd.Series:
        """Product titles by ``item_id`` (step 2's cleaned catalogue)."""
        return self.read("02_data_preparation", self.ITEMS).set_index("item_id")["item_text"]

    def task(self, window: str = "test"):
        """The evaluation task of ``window`` (``valid`` or ``test``) on step 2's interactions."""
        from recft_utils.evaluation import build_task

        return build_task(self.interactions(), self.split(), window)

    def item_vectors(self) -> pd.DataFrame:
        """Step 3's item vectors (the encoder that the served model uses), indexed by ``item_id``."""
        return read_item_vectors(self.file("03a_two_tower", self.ITEM_VECTORS))

    def model_config(self) -> dict:
        """Step 3's saved two-tower settings (with ``epochs``, ``seed`` and ``fine_tuning``)."""
        return self.read("03b_fine_tuning", self.MODEL_CONFIG)

    def model_weights(self) -> Path:
        return self.read("03b_fine_tuning", self.MODEL_WEIGHTS)

    def exported_model_dir(self) -> Path:
        """Step 4's exported model folder (SavedModel, catalogue, customers, metadata)."""
        return self.read("04_serving", self.EXPORTED_MODEL)

    def figures(self, step: str) -> StepFigures:
        """A complete step's key figures (declared in :mod:`recft_utils.run_figures`)."""
        return StepFigures(step, self.read(step, self.FIGURES), how_to_create(self.folder, step))

    def write_figures(self, step: str, figures: dict) -> Path:
        """Write ``step``'s key figures, atomically, refused unless they are exactly the declared ones
        (:func:`~recft_utils.run_figures.check_figures`); numpy numbers are stored as JSON numbers."""
        plain = {name: value.item() if isinstance(value, np.generic) else value for name, value in figures.items()}
        return write_json(self.path(step, self.FIGURES), check_figures(step, plain))

    def report_tables(self) -> dict[str, pd.DataFrame]:
        """The tables step 5 writes for the stakeholder reports.

        The reports run inside notebook 05, before its manifest: so these need
        steps 01-04 complete and the three tables present, not step 05's manifest.
        """
        folder = self.path("05_collaboration")
        missing = [n for n in self.REPORT_TABLES if not (folder / f"{n}.parquet").is_file()]
        if missing:
            raise MissingArtefactError(
                f"{folder} has no {', '.join(f'{n}.parquet' for n in missing)}: the reports "
                f"read what notebook 05 writes. Run notebook 05 (or `recft checkpoint --step 5 "
                f"--run-dir {self.folder}`) first."
            )
        self.require_before("05_collaboration")
        return {name: pd.read_parquet(folder / f"{name}.parquet") for name in self.REPORT_TABLES}
