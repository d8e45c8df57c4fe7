"""``recft doctor``: is this machine ready? Each problem comes with its fix.

The checks follow the workshop problems of docs/facilitator.md: a failed
check is an error (exit code 1); a ``warning`` (little memory or disk, a busy
port) is printed with its fix but does not fail; the last line says which
steps of ``runs/default`` exist, so a late-comer knows which checkpoint to make.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from recft_utils.errors import RecftError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # a problem that does not stop the tutorial (reported, exit code 0)


MIN_MEMORY_GB = 6.0  # the workshop profile's peak is about 4 GB (README, step 3)
MIN_DISK_GB = 5.0  # a workshop run is about 0.5 GB; the offline bundle and a venv need ~4 GB more
SERVE_PORT = 8000  # `recft serve`'s default


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = (3, 11, 5) <= sys.version_info[:3] and sys.version_info[:2] <= (3, 13)
    if ok and sys.version_info[:2] != (3, 11):
        return Check(
            "python",
            False,
            f"{version}: every pinned package has a wheel for it, but the tests run on 3.11",
            "fine to use; for the tested setup, `make setup PYTHON=python3.11`",
            warning=True,
        )
    return Check(
        "python", ok, version, "" if ok else "recft needs Python 3.11.5 to 3.13: `make setup PYTHON=python3.11`"
    )


def check_packages() -> Check:
    """Every pinned dependency of the installed recft is present at its version."""
    try:
        requirements = metadata.requires("recft") or []
    except metadata.PackageNotFoundError:
        return Check("packages", False, "recft is not installed", "`make setup` (or `pip install -e .`)")
    wrong = []
    for requirement in requirements:
        if "extra ==" in requirement:
            continue
        match = re.match(r"([A-Za-z0-9_.\-]+)==([^;\s]+)", requirement)
        if not match:
            continue
        name, pinned = match.groups()
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = "missing"
        if found != pinned:
            wrong.append(f"{name} {found} (pinned {pinned})")
    if wrong:
        return Check("packages", False, "; ".join(wrong), "`make setup` reinstalls the pinned versions")
    return Check("packages", True, f"{len(requirements)} pinned requirements satisfied")


def check_kernel() -> Check:
    from recft_utils.notebook_execution import KERNEL_ARGUMENTS, KERNEL_NAME

    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception as exc:  # jupyter missing or broken
        return Check("kernel", False, str(exc), "`make setup`")
    install = "`recft install-kernel` (part of `make setup`)"
    if KERNEL_NAME not in specs:
        return Check("kernel", False, f"no kernel named {KERNEL_NAME}", install)
    # a kernel left by another checkout or venv runs another Python, without recft_utils
    argv = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv
    if argv[0] not in ("python", "python3") and Path(argv[0]).resolve() != Path(sys.executable).resolve():
        return Check(
            "kernel",
            False,
            f"{KERNEL_NAME} runs {argv[0]}, not this environment's {sys.executable}",
            f"re-register it from this environment: {install}",
        )
    if not set(KERNEL_ARGUMENTS) <= set(argv):
        return Check(
            "kernel",
            False,
            f"{KERNEL_NAME} was registered without {' '.join(KERNEL_ARGUMENTS)}: cells "
            f"will show TensorFlow's C++ log lines",
            f"re-register it: {install}",
            warning=True,
        )
    return Check("kernel", True, f"{KERNEL_NAME} at {specs[KERNEL_NAME]}")


def check_model() -> Check:
    from recft_utils.text.model_files import find_model_dir, verify_weights

    try:
        folder = find_model_dir()
        verify_weights(folder)
    except RecftError as exc:
        return Check("model weights", False, str(exc), "`recft install-model`")
    return Check("model weights", True, f"{folder} (sha256 verified)")


def check_data() -> Check:
    from recft_utils.datasets import online_retail

    try:
        mirror = online_retail.mirror_path()
        cached = online_retail.data_home() / online_retail.PARQUET_NAME
        if mirror is None and not cached.exists():
            return Check(
                "data",
                False,
                f"no mirror (RECFT_DATA_MIRROR unset) and nothing cached at {cached}",
                "`recft fetch-data` (needs internet) or `export RECFT_DATA_MIRROR=/path/to/datasets`",
            )
        online_retail.load_raw()
    except RecftError as exc:
        return Check("data", False, str(exc), "`recft fetch-data`, or fix RECFT_DATA_MIRROR")
    return Check("data", True, f"Online Retail verified from {mirror or cached}")


def check_checkout() -> Check:
    from recft_utils.config import project_root

    root = project_root()
    if (root / "notebooks").is_dir():
        return Check("checkout", True, str(root))
    return Check(
        "checkout",
        False,
        f"{Path.cwd()} is not inside a recft checkout",
        "run recft (and `make lab`) from the folder that holds notebooks/ and Makefile",
    )


def check_memory() -> Check:
    import psutil

    available = psutil.virtual_memory().available / 2**30
    if available >= MIN_MEMORY_GB:
        return Check("memory", True, f"{available:.1f} GB available")
    return Check(
        "memory",
        False,
        f"{available:.1f} GB available (the workshop profile needs about {MIN_MEMORY_GB:g})",
        'close other programs, or run with `--profile tiny` / `profile = "tiny"`',
        warning=True,
    )


def check_disk() -> Check:
    import shutil

    from recft_utils.config import project_root

    free = shutil.disk_usage(project_root()).free / 2**30
    if free >= MIN_DISK_GB:
        return Check("disk", True, f"{free:.0f} GB free")
    return Check(
        "disk",
        False,
        f"{free:.1f} GB free (runs, models and the offline bundle need about {MIN_DISK_GB:g})",
        "free space, or remove old runs (`make clean` removes runs/default)",
        warning=True,
    )


def check_port(port: int = SERVE_PORT) -> Check:
    import socket

    with socket.socket() as sock:
        busy = sock.connect_ex(("127.0.0.1", port)) == 0
    if not busy:
        return Check("port", True, f"{port} is free for `recft serve`")
    return Check(
        "port",
        False,
        f"something already listens on 127.0.0.1:{port}",
        f"stop it, or use `recft serve --port {port + 1}` (notebook 04 picks a free port itself)",
        warning=True,
    )


def check_run() -> Check:
    """Which steps of the default run are complete: the checkpoint a late-comer still needs."""
    from recft_utils.run import STEPS, Run, notebook_id

    run = Run()
    try:
        done = run.complete_steps()
    except RecftError as exc:  # a run folder of an older layout
        return Check("run", False, str(exc), f"start a new run folder, or delete {run.folder}", warning=True)
    if not done:
        return Check(
            "run",
            True,
            f"{run.folder} holds no step yet: start at notebook 01, "
            "or `recft checkpoint --step N` to start at the notebook after step N (3a: 03b)",
        )
    last = max(STEPS.index(s) for s in done) + 1
    profiles = sorted({str(p) for p in done.values()})
    nxt = f"notebook {notebook_id(STEPS[last])} can start" if last < len(STEPS) else "every notebook has its inputs"
    return Check(
        "run",
        True,
        f"{run.folder}: steps {', '.join(notebook_id(s) for s in done)} complete "
        f"(profile {', '.join(profiles)}); {nxt}",
    )


CHECKS = [
    check_python,
    check_packages,
    check_kernel,
    check_model,
    check_data,
    check_checkout,
    check_memory,
    check_disk,
    check_port,
    check_run,
]


def run_doctor(out=sys.stdout) -> int:
    """Print one line per check and the fix for each failure; 0 when all pass."""
    failures = 0
    for check in CHECKS:
        result = check()
        mark = "ok  " if result.ok else "warn" if result.warning else "FAIL"
        print(f"[{mark}] {result.name}: {result.detail}", file=out)
        if not result.ok:
            failures += not result.warning
            print(f"       fix: {result.fix}", file=out)
    print("all checks passed" if not failures else f"{failures} problem(s) found", file=out)
    return 0 if not failures else 1
