"""Run one heavy piece of a benchmark in a fresh process.

TensorFlow keeps memory it allocated for a trained model (oneDNN's kernel
caches, the allocator's arenas) until its process exits: training several
encoders one after the other in one process adds about 1 GB each. Running
each in a child process that exits afterwards keeps the peak at one model's.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def in_child_process(function, *args, **kwargs):
    """``function(*args, **kwargs)`` run in a new spawned process; its result, or its exception.

    ``function`` must be importable (defined at a module's top level) and its
    arguments picklable. Spawn, not fork: a forked TensorFlow runtime deadlocks.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args, **kwargs).result()
