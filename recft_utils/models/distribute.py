"""Choosing a ``tf.distribute`` strategy by name, so one code path scales to several devices and machines.

- ``default``: no distribution (one process, its CPUs or first GPU);
- ``mirrored``: every local GPU (or CPUs configured as logical devices) in one process;
- ``one_device``: the first device;
- ``multi_worker``: :class:`tf.distribute.MultiWorkerMirroredStrategy`, one process per machine (or
  per local worker), each told the cluster and its own place in it by the ``TF_CONFIG`` environment
  variable (see :mod:`recft_utils.multi_worker`); without ``TF_CONFIG`` it is one worker.
  It must exist before TensorFlow runs anything, so call :func:`get_strategy` first in a worker.
"""

from __future__ import annotations

from recft_utils.errors import ParameterError

STRATEGIES = ("default", "mirrored", "one_device", "multi_worker")
_created: dict = {}  # a strategy that must be made once per process (multi_worker)


def check_strategy(name: str) -> str:
    """Refuse an unknown strategy name before anything is built."""
    if name not in STRATEGIES:
        raise ParameterError(f"Unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}.")
    return name


def get_strategy(name: str = "default"):
    """The strategy called ``name`` (see the module); ``multi_worker`` is created once per process."""
    check_strategy(name)
    from recft_utils.keras_backend import tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if name not in _created:
            try:
                _created[name] = tf.distribute.MultiWorkerMirroredStrategy()
            except (RuntimeError, ValueError) as exc:
                raise ParameterError(
                    f"The multi_worker strategy could not start ({exc}). It must be created before TensorFlow "
                    f"runs anything (call get_strategy('multi_worker') first in the process), and TF_CONFIG must "
                    f"be valid JSON naming the cluster's workers and this one's index."
                ) from None
        return _created[name]
    return tf.distribute.OneDeviceStrategy(tf.config.list_logical_devices()[0].name)


def fit_across_workers(
    model, x, y, batch_size: int, epochs: int, callbacks=(), steps_per_epoch: int | None = None, seed: int = 0
) -> list[float]:
    """``model.fit`` for the ``multi_worker`` strategy: the same ``train_step``, in a loop of its own.

    Keras 3's ``fit`` cannot start under ``MultiWorkerMirroredStrategy`` (its first-batch build reduces a
    nested batch across workers, which collective ops refuse: keras-team/keras#20585), so this is the
    documented custom loop: the examples shuffled with ``seed`` (the same order on every worker), batched
    by the global ``batch_size`` (the last partial batch dropped, so that every worker takes every step),
    split across the workers by ``tf.distribute``; each step runs ``model.train_step`` on every replica,
    and the optimiser sums the gradients across workers. Callbacks get the epoch and batch events
    ``fit`` would send (``stop_training`` is honoured). Returns each epoch's mean training loss.
    """
    from recft_utils.keras_backend import tf

    strategy = get_strategy("multi_worker")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    distributed = strategy.experimental_distribute_dataset(
        dataset.batch(batch_size, drop_remainder=True).with_options(options)
    )

    @tf.function
    def step(batch):
        return strategy.reduce("MEAN", strategy.run(model.train_step, args=(batch,))["loss"], axis=None)

    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    losses, model.stop_training = [], False
    for epoch in range(epochs):
        for metric in model.metrics:
            metric.reset_state()
        loss = float("nan")
        for index, batch in enumerate(distributed):
            if steps_per_epoch and index >= steps_per_epoch:
                break
            for callback in callbacks:
                callback.on_train_batch_begin(index)
            loss = float(step(batch))
            for callback in callbacks:
                callback.on_train_batch_end(index, {"loss": loss})
        losses.append(loss)
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"loss": loss})
        if model.stop_training:
            break
    for callback in callbacks:
        callback.on_train_end()
    return losses
