"""What both training stages share: the optimiser and loss scaling under a distribution strategy.

The frozen-encoder two-tower (:class:`~recft_utils.models.two_tower.TwoTowerConfig`) and the
encoder fine-tuning (:class:`~recft_utils.models.fine_tuning.FineTuneConfig`) both train with
AdamW on a linear warm-up then cosine decay; their configs hold the same three optimiser
fields (``learning_rate``, ``weight_decay``, ``warmup_fraction``) with defaults of their own,
and share their checks and schedule through :class:`OptimizerSettings`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from recft_utils.errors import ParameterError


class OptimizerSettings:
    """Mixin of a config dataclass with ``learning_rate``, ``weight_decay`` and ``warmup_fraction``."""

    learning_rate: float
    weight_decay: float
    warmup_fraction: float

    def check_optimizer(self) -> None:
        """Refuse an optimiser setting that cannot train, naming the config it belongs to."""
        if self.learning_rate <= 0:
            raise ParameterError(f"{self.label}: learning_rate must be positive, got {self.learning_rate}.")
        if self.weight_decay < 0 or not 0 <= self.warmup_fraction < 1:
            raise ParameterError(f"{self.label}: weight_decay must be >= 0 and warmup_fraction in [0, 1), got "
                                 f"{self.weight_decay} and {self.warmup_fraction}.")

    def optimizer(self, steps: int) -> keras.optimizers.Optimizer:
        """AdamW with a linear warm-up over ``warmup_fraction`` of ``steps``, then cosine decay to 0."""
        warmup = int(steps * self.warmup_fraction)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(steps - warmup, 1), warmup_target=self.learning_rate, warmup_steps=warmup)
        return keras.optimizers.AdamW(schedule, weight_decay=self.weight_decay)


def replicas() -> int:
    """Replicas of the current ``tf.distribute`` strategy (1 outside one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_for_replicas(loss):
    """A per-replica loss scaled so that summing over replicas gives the batch mean (what
    ``model.fit`` does with a compiled loss; a custom ``train_step`` adding terms must too)."""
    return loss / tf.cast(replicas(), loss.dtype) if replicas() > 1 else loss


def unscale_for_replicas(loss):
    """The inverse of :func:`scale_for_replicas`: the value to report."""
    return loss * tf.cast(replicas(), loss.dtype) if replicas() > 1 else loss
