"""What the machine has and what this process used: the two memory figures recft acts on or reports.

Both are TensorFlow-free, so that measuring a step does not load TensorFlow when the step never
needed it.
"""

from __future__ import annotations

import resource


def available_memory() -> int:
    """Bytes of memory available now (psutil: what can be allocated without swapping)."""
    import psutil

    return int(psutil.virtual_memory().available)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
