"""``benchmark large-shop``: the whole chain, as a learner runs it, on a shop the size of a grocery chain's export.

A real grocery export (about 2,500 households, 1.5 million lines, 68,000 products, texts shared
by several products) is what a user brings; the built-in shop has 4,000 products. This runs the six
notebooks with a profile (default ``workshop``) on the grocery-style synthetic shop of that size
(:data:`LARGE_SHOP`), and measures each notebook's time (papermill's) and the peak memory of the
whole process tree (this process, the notebooks' kernels, the service they start), sampled every
half second, per notebook and for the chain. Targets: :data:`TARGET_MINUTES` and :data:`TARGET_GB`
on 2 cores.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd

LARGE_SHOP = "synthetic:70000:1500000:grocery"
TARGET_MINUTES, TARGET_GB = 45, 12


class TreeMemory:
    """Resident memory of this process and all its descendants, sampled every ``every`` seconds in a thread:
    ``samples`` (time, GB), ``peak_gb``."""

    def __init__(self, every: float = 0.5):
        self.every, self.samples = every, []
        self._stop = threading.Event()

    def _total_gb(self) -> float:
        import psutil

        me = psutil.Process()
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:  # it ended between the listing and the reading
                pass
        return total / 1e9

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._total_gb()))
            self._stop.wait(self.every)

    def __enter__(self) -> "TreeMemory":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_gb(self) -> float:
        return max((gb for _, gb in self.samples), default=0.0)

    def peak_between(self, start: float, end: float) -> float:
        """The peak of the samples taken between two times (seconds since the epoch)."""
        return max((gb for when, gb in self.samples if start <= when <= end), default=0.0)


def _notebook_record(executed: Path, memory: TreeMemory) -> dict:
    import nbformat

    papermill = nbformat.read(executed, 4).metadata["papermill"]
    start, end = (pd.Timestamp(papermill[key]).timestamp() for key in ("start_time", "end_time"))
    return {
        "notebook": executed.stem,
        "seconds": round(float(papermill["duration"]), 1),
        "peak_gb": round(memory.peak_between(start, end), 2),
    }


def large_shop(dataset: str = LARGE_SHOP, profile: str = "workshop", run_dir: Path = Path("runs/large-shop")) -> dict:
    """Run the chain on ``dataset`` with ``profile`` into a fresh ``run_dir``; its times, memory and shop."""
    import shutil

    from recft_utils.run import Run, git_commit
    from recft_utils.runner import discover_notebooks, run_chain
    from recft_utils.workshop.timings import machine

    shutil.rmtree(run_dir, ignore_errors=True)
    with TreeMemory() as memory:
        started = time.perf_counter()
        run_chain(profile=profile, dataset=dataset, run_dir=run_dir)
        seconds = time.perf_counter() - started
    run = Run(run_dir)
    step1, choice = run.figures("01_requirements"), run.read("01_requirements", Run.ITEM_MODEL)
    return {
        "machine": machine(),
        "commit": git_commit(),
        "dataset": dataset,
        "profile": profile,
        "lines": step1["interactions"],
        "customers": step1["customers"],
        "products": step1["items"],
        "catalogue": choice["items"],
        "item_model": choice["model"] + (f" ({choice['dtype']})" if choice["dtype"] else ""),
        "served": run.read("03b_fine_tuning", Run.SERVED_CHOICE)["model"],
        "chain_seconds": round(seconds, 1),
        "peak_gb": round(memory.peak_gb, 2),
        "notebooks": [_notebook_record(run_dir / nb.name, memory) for nb in discover_notebooks()],
        "targets": {"minutes": TARGET_MINUTES, "gb": TARGET_GB},
    }


def summary_table(result: dict) -> pd.DataFrame:
    """One row per notebook and one for the chain: minutes and peak GB."""
    rows = [
        {"notebook": r["notebook"], "minutes": round(r["seconds"] / 60, 1), "peak GB": r["peak_gb"]}
        for r in result["notebooks"]
    ]
    rows.append(
        {
            "notebook": "the chain (wall time)",
            "minutes": round(result["chain_seconds"] / 60, 1),
            "peak GB": result["peak_gb"],
        }
    )
    return pd.DataFrame(rows)


def verdict(result: dict) -> str:
    """Whether the chain met the targets, in one sentence."""
    minutes, gb = result["chain_seconds"] / 60, result["peak_gb"]
    met = minutes <= result["targets"]["minutes"] and gb <= result["targets"]["gb"]
    return (
        f"The {result['profile']} chain took {minutes:.1f} min and {gb:.1f} GB at its peak "
        f"(targets: {result['targets']['minutes']} min, {result['targets']['gb']} GB): "
        f"{'met' if met else 'not met'}."
    )
