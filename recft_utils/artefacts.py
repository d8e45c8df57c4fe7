"""Atomic writes and the artefact folders of a run.

Every file is written under a temporary name in its final folder and renamed
into place, so an interrupted step never leaves a half-written file that a
later step would read. A step ends by writing ``manifest.json``; a later step
only trusts a folder that has one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from recft_utils.errors import MissingArtefactError

MANIFEST = "manifest.json"

# The step folders, in order: notebook NN writes ``STEPS[NN - 1]``.
STEPS = ("01_requirements", "02_data_preparation", "03_fine_tuning", "04_serving",
         "05_collaboration", "06_iteration")


def _how_to_create(run_dir, number: int) -> str:
    """How to make steps 01..``number`` in ``run_dir``: the end of a missing-input message."""
    notebooks = "notebook 01" if number == 1 else f"notebooks 01 to {number:02d}"
    return (f"`recft checkpoint --step {number} --run-dir {Path(run_dir)}` (or `make checkpoint STEP={number}`; "
            f"add `--profile tiny` for the quick version), or run {notebooks} first with the same run_dir.")


def _default_mode(path, mode: int) -> None:
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would (``mode`` minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    if os.path.exists(path):  # a writer may have replaced the temporary file already
        os.chmod(path, mode & ~umask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temporary name ends like the final one (Keras insists on ".weights.h5")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f".{path.name}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _default_mode(tmp, 0o666)  # mkstemp makes files private; artefacts are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path``.

    A reader sees the old folder or the new one, never a half-written one
    (the old one is moved aside, then the new one renamed into place).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", suffix=f".{path.name}", dir=path.parent))
    try:
        yield tmp
        _default_mode(tmp, 0o777)
        old = path.with_name(f".old-{path.name}")
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return Path(path)


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())


def write_parquet(path: str | os.PathLike, frame) -> Path:
    """Write a DataFrame as parquet, atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def save_figure(path: str | os.PathLike, figure, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG, atomically."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def step_dir(run_dir: str | os.PathLike, step: str) -> Path:
    """The artefact folder of one step (e.g. ``02_data_preparation``) in a run."""
    folder = Path(run_dir) / step
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_manifest(folder: str | os.PathLike, parameters: dict) -> Path:
    """Mark a step's folder complete: list its files with sizes and hashes."""
    folder = Path(folder)
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")
    }
    return write_json(folder / MANIFEST, {"parameters": parameters, "files": files})


def require_step(run_dir: str | os.PathLike, step: str) -> Path:
    """Return a completed step's folder, or say which command creates it."""
    folder = Path(run_dir) / step
    if not (folder / MANIFEST).exists():
        number = STEPS.index(step) + 1
        raise MissingArtefactError(
            f"{folder} is missing or incomplete (no {MANIFEST}): this notebook reads the "
            f"artefacts of step {step}. Create them with {_how_to_create(run_dir, number)}"
        )
    return folder


def require_inputs(run_dir: str | os.PathLike, step: str, profile: str | None = None) -> None:
    """Check, before a notebook starts, that every step before ``step`` is complete.

    The rule a workshop can remember: to open notebook N+1, make checkpoint N.
    The message names that one command instead of one missing folder at a time.
    With ``profile``, the earlier steps must have been run with the same one
    (a ``tiny`` checkpoint read by a ``workshop`` notebook would mix sizes).
    """
    number = STEPS.index(step)
    missing = [s for s in STEPS[:number] if not (Path(run_dir) / s / MANIFEST).exists()]
    if missing:
        raise MissingArtefactError(
            f"Notebook {step} reads the artefacts of the steps before it, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing in {Path(run_dir)}. Create them from the code with "
            f"{_how_to_create(run_dir, number)}"
        )
    if profile is None:
        return
    for earlier in STEPS[:number]:
        made_with = read_json(Path(run_dir) / earlier / MANIFEST).get("parameters", {}).get("profile")
        if made_with not in (None, profile):
            raise MissingArtefactError(
                f"{Path(run_dir) / earlier} was made with profile {made_with!r}, but this notebook runs with "
                f"{profile!r}. Set profile = {made_with!r} in the parameters cell, or recreate the steps with "
                f"`recft checkpoint --step {number} --profile {profile} --run-dir {Path(run_dir)}`."
            )
