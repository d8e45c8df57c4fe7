"""Evaluation: the temporal split, ranking metrics and the protocol's views."""

from recft_utils.evaluation.protocol import VIEWS, EvalTask, build_task, evaluate, summarise
from recft_utils.evaluation.split import TemporalSplit, assign_part, temporal_split

__all__ = ["VIEWS", "EvalTask", "TemporalSplit", "assign_part", "build_task", "evaluate",
           "summarise", "temporal_split"]
