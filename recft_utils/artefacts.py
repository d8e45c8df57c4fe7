"""Atomic writes: every artefact appears whole or not at all.

Every file is written under a temporary name in its final folder and renamed
into place, so an interrupted step never leaves a half-written file that a
later step would read. The run folder itself (steps, manifests) is
:mod:`recft_utils.run`'s.
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


def read_summary(path: str | os.PathLike, required: tuple[str, ...], command: str) -> dict | None:
    """A committed benchmark summary (JSON) with ``required`` keys; None when the file is absent.

    A summary written by an older recft (a key missing) is refused with ``command``, which writes it again.
    """
    from recft_utils.errors import ParameterError

    path = Path(path)
    if not path.is_file():
        return None
    summary = read_json(path)
    missing = [key for key in required if key not in summary]
    if missing:
        raise ParameterError(
            f"{path} lacks {', '.join(missing)} (written by an older recft); write it again with `{command}`."
        )
    return summary


def write_parquet(path: str | os.PathLike, frame) -> Path:
    """Write a DataFrame as parquet, atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def write_item_vectors(path: str | os.PathLike, vectors) -> Path:
    """Item vectors (indexed by item id; columns: the dimensions 0, 1, ...) as parquet, atomically.

    Parquet needs string column names, so the dimensions are written as "0", "1", ...
    and :func:`read_item_vectors` turns them back into integers.
    """
    frame = vectors.set_axis([str(c) for c in vectors.columns], axis=1).rename_axis("item_id")
    return write_parquet(path, frame.reset_index())


def read_item_vectors(path: str | os.PathLike):
    """What :func:`write_item_vectors` wrote: a DataFrame indexed by ``item_id``, integer columns."""
    import pandas as pd

    frame = pd.read_parquet(path).set_index("item_id")
    return frame.set_axis(frame.columns.astype(int), axis=1)


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


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a reader should see it: relative to the recft checkout when inside it, so that committed
    notebook outputs carry no machine's folders (``runs/default/01_requirements``); else as given."""
    path = Path(path)
    root = Path(__file__).resolve().parents[1]
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
