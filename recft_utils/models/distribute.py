"""Choosing a ``tf.distribute`` strategy by name, so one code path scales to several devices."""

from __future__ import annotations

from recft_utils.errors import ParameterError

STRATEGIES = ("default", "mirrored", "one_device")


def check_strategy(name: str) -> str:
    """Refuse an unknown strategy name before anything is built."""
    if name not in STRATEGIES:
        raise ParameterError(f"Unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}.")
    return name


def get_strategy(name: str = "default"):
    """``default`` (no distribution), ``mirrored`` (all local GPUs, or CPUs configured as
    logical devices), ``one_device`` (the first device)."""
    check_strategy(name)
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.OneDeviceStrategy(tf.config.list_logical_devices()[0].name)
