"""Mapping a weights file's tensors onto a KerasHub model, each accounted for.

The converters (:mod:`~recft_utils.text.onnx_bert`, :mod:`~recft_utils.text.gguf_llama`) take every
tensor of the file exactly once, with the shape the architecture needs (:class:`TensorBook`), and
set every weight of the KerasHub model exactly once (:func:`assign`, :func:`check_all_assigned`),
so a renamed, extra or missing tensor, or a layer left at its random initial value, is a
:class:`ConversionError` naming it.
"""

from __future__ import annotations

import numpy as np

from recft_utils.text.model_files import ModelError


class ConversionError(ModelError):
    """The weights file does not have the tensors (names, shapes, count) the architecture needs."""


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
            raise ConversionError(
                f"{self.source}: tensor {name} is missing; this is not the model the converter "
                f"expects (reinstall it, or check which file you passed)."
            )
        tensor = np.asarray(self.tensors[name], dtype=np.float32)
        if tensor.shape != tuple(shape):
            raise ConversionError(
                f"{self.source}: tensor {name} has shape {tensor.shape}, the model needs {tuple(shape)}."
            )
        self.used.append(name)
        return tensor

    def finish(self) -> list[str]:
        """The names taken, in order; raises when a tensor of the file was not used."""
        unused = sorted(set(self.tensors) - set(self.used))
        if unused:
            raise ConversionError(
                f"{self.source}: {len(unused)} tensors were not used ({', '.join(unused[:5])}); "
                f"the file holds more than the architecture built from its settings."
            )
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
        raise ConversionError(
            f"{len(missing)} weights of the {type(backbone).__name__} were not set from the file "
            f"({', '.join(missing[:5])}); the converter does not cover this architecture."
        )
