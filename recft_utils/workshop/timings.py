"""Measured run times of the notebooks and their solutions, per profile: what a facilitator plans with.

``python -m recft_utils.benchmark notebooks --profiles tiny workshop`` executes
the notebooks of the chain into a fresh run folder per profile, then every solution
notebook on that run, and records papermill's own duration of each
(``metadata.papermill.duration``) with a description of the machine.
``scripts/readme_tables.py runs/benchmarks/notebooks.json`` turns the records
into the tables of docs/facilitator.md and README.md.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from pathlib import Path

import nbformat

from recft_utils.runner import discover_notebooks, run_chain, run_solutions


def machine() -> dict:
    """Cores, CPU model and memory of this machine, for the table's caption."""
    import psutil

    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        model = names[0] if names else model
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def papermill_seconds(executed: Path) -> float:
    """The duration papermill recorded in an executed notebook."""
    return float(nbformat.read(executed, 4).metadata["papermill"]["duration"])


def profile_timings(profile: str, run_dir: Path, solutions: bool = True) -> list[dict]:
    """Run the chain (and the solutions) with ``profile`` into a fresh ``run_dir``; one record per notebook,
    and one of kind ``chain`` (notebook ``all``): the chain's wall time, which the notebooks' own
    times add up to less than (each kernel starts while the notebook before it runs: see
    notebook_execution.WarmKernel)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.perf_counter()
    run_chain(profile=profile, run_dir=run_dir)
    records = [
        {"profile": profile, "notebook": "all", "kind": "chain", "seconds": round(time.perf_counter() - started, 1)}
    ]
    records += [
        {
            "profile": profile,
            "notebook": nb.stem,
            "kind": "notebook",
            "seconds": round(papermill_seconds(run_dir / nb.name), 1),
        }
        for nb in discover_notebooks()
    ]
    for executed in run_solutions(run_dir, profile, progress=False) if solutions else []:  # into run_dir/exercises/
        records.append(
            {
                "profile": profile,
                "notebook": executed.stem.removesuffix("_solutions"),
                "kind": "solutions",
                "seconds": round(papermill_seconds(executed), 1),
            }
        )
    return records
