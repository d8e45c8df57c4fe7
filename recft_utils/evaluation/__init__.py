"""Evaluation: the temporal split, ranking metrics and the protocol's views."""

from recft_utils.evaluation.protocol import (
    FAMILIES,
    LANGUAGE_MODEL_FAMILIES,
    VIEWS,
    EvalTask,
    build_task,
    evaluate,
    summarise,
)
from recft_utils.evaluation.split import TemporalSplit, assign_part, temporal_split

__all__ = [
    "FAMILIES",
    "LANGUAGE_MODEL_FAMILIES",
    "VIEWS",
    "EvalTask",
    "TemporalSplit",
    "assign_part",
    "build_task",
    "evaluate",
    "summarise",
    "temporal_split",
]
