"""Run one heavy piece of a benchmark in a fresh process.

TensorFlow keeps memory it allocated for a trained model (oneDNN's kernel
caches, the allocator's arenas) until its process exits: training several
encoders one after the other in one process adds about 1 GB each. Running
each in a child process that exits afterwards keeps the peak at one model's.
"""

from __future__ import annotations

import multiprocessing
import resource
from concurrent.futures import ProcessPoolExecutor


def in_child_process(function, *args, **kwargs):
    """``function(*args, **kwargs)`` run in a new spawned process; its result, or its exception.

    ``function`` must be importable (defined at a module's top level) and its
    arguments picklable. Spawn, not fork: a forked TensorFlow runtime deadlocks.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args, **kwargs).result()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB). TensorFlow-free, so that a
    step's figure does not include TensorFlow's import when the step never needed it."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
