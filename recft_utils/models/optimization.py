"""What both training stages share: the optimiser and loss scaling under a distribution strategy.

This module also owns recft's one change to Keras internals (:func:`_decay_at_one_rate`, used by
:func:`build_optimizer`); ``tests/test_optimization.py`` fails if a Keras release moves what it
relies on.

The frozen-encoder two-tower (:class:`~recft_utils.models.two_tower.TwoTowerConfig`) and the
encoder fine-tuning (:class:`~recft_utils.models.fine_tuning.FineTuneConfig`) both train with
AdamW on a linear warm-up then cosine decay; their configs hold the same three optimiser
fields (``learning_rate``, ``weight_decay``, ``warmup_fraction``) with defaults of their own,
and share their checks and schedule through :class:`OptimizerSettings`.
"""

from __future__ import annotations

from recft_utils.errors import ParameterError
from recft_utils.keras_backend import keras, tf


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
            raise ParameterError(
                f"{self.label}: weight_decay must be >= 0 and warmup_fraction in [0, 1), got "
                f"{self.weight_decay} and {self.warmup_fraction}."
            )

    def optimizer(self, steps: int) -> keras.optimizers.Optimizer:
        """AdamW with a linear warm-up over ``warmup_fraction`` of ``steps``, then cosine decay to 0."""
        warmup = int(steps * self.warmup_fraction)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(steps - warmup, 1), warmup_target=self.learning_rate, warmup_steps=warmup
        )
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


def compile_with_optimizer(model, optimizer, jit_compile: bool = False) -> None:
    """``model.compile``, with two costs of Keras's AdamW removed from the training step (the updates
    stay the same, to the bit).

    - The optimizer's state is created now: without a distribution strategy
      Keras would create it inside the first trace of the step, and a
      ``tf.function`` that creates variables is traced twice.
    - Its weight decay reads the learning rate once per step (see
      :func:`_decay_at_one_rate`), not once per weight.
    """
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    build_optimizer(model)


def build_optimizer(model) -> None:
    """Create the compiled ``model``'s optimizer state now, its weight decay reading the learning rate once
    per step (see :func:`compile_with_optimizer`; the two-tower model's training uses it too)."""
    _decay_at_one_rate(model.optimizer)
    model.optimizer.build(model.trainable_variables)


def _decay_at_one_rate(optimizer) -> None:
    """AdamW's decoupled weight decay (keras 3's TensorFlow one), with the learning rate read once per step.

    Keras evaluates the schedule (warm-up ``cond`` and cosine) again for every
    weight: for the full regime's ~100 weights that is most of the step's
    graph, several seconds of tracing and a tenth of a second per step. The
    rate is the same number each time (the step counter moves after the
    updates), so reading it once changes no update. Left as it is when the
    optimizer has no such decay.
    """
    if getattr(optimizer, "weight_decay", None) is None or not hasattr(optimizer, "_use_weight_decay"):
        return

    def apply_weight_decay(variables):
        def decay_all(distribution, variables, learning_rate):
            def decay(variable, learning_rate):
                if optimizer._use_weight_decay(variable):
                    rate = tf.cast(learning_rate, variable.dtype)
                    variable.assign_sub(variable * tf.cast(optimizer.weight_decay, variable.dtype) * rate)

            for variable in variables:
                if isinstance(variable, keras.Variable):
                    variable = variable.value
                # through args: under a MirroredStrategy each replica's variable gets its replica's rate
                distribution.extended.update(variable, decay, args=(learning_rate,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            decay_all, optimizer._distribution_strategy, variables, optimizer.learning_rate
        )

    optimizer._apply_weight_decay = apply_weight_decay
