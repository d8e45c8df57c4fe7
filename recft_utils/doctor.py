"""``recft doctor``: is this machine ready? Each problem comes with its fix."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] == (3, 11)
    return Check("python", ok, version, "" if ok else "recft is tested on Python 3.11: `make setup PYTHON=python3.11`")


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
    from recft_utils.runner import KERNEL_NAME

    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception as exc:  # jupyter missing or broken
        return Check("kernel", False, str(exc), "`make setup`")
    if KERNEL_NAME in specs:
        return Check("kernel", True, f"{KERNEL_NAME} at {specs[KERNEL_NAME]}")
    return Check("kernel", False, f"no kernel named {KERNEL_NAME}",
                 f"`python -m ipykernel install --sys-prefix --name {KERNEL_NAME}` (part of `make setup`)")


def check_model() -> Check:
    from recft_utils.errors import RecftError
    from recft_utils.text.encoder import find_model_dir, verify_weights

    try:
        folder = find_model_dir()
        verify_weights(folder)
    except RecftError as exc:
        return Check("model weights", False, str(exc), "`recft install-model`")
    return Check("model weights", True, f"{folder} (sha256 verified)")


def check_data() -> Check:
    from recft_utils.datasets import online_retail
    from recft_utils.errors import RecftError

    try:
        mirror = online_retail.mirror_path()
        cached = online_retail.data_home() / online_retail.PARQUET_NAME
        if mirror is None and not cached.exists():
            return Check("data", False, f"no mirror (RECFT_DATA_MIRROR unset) and nothing cached at {cached}",
                         "`recft fetch-data` (needs internet) or `export RECFT_DATA_MIRROR=/path/to/datasets`")
        online_retail.load_raw()
    except RecftError as exc:
        return Check("data", False, str(exc), "`recft fetch-data`, or fix RECFT_DATA_MIRROR")
    return Check("data", True, f"Online Retail verified from {mirror or cached}")


CHECKS = [check_python, check_packages, check_kernel, check_model, check_data]


def run_doctor(out=sys.stdout) -> int:
    """Print one line per check and the fix for each failure; 0 when all pass."""
    failures = 0
    for check in CHECKS:
        result = check()
        mark = "ok  " if result.ok else "FAIL"
        print(f"[{mark}] {result.name}: {result.detail}", file=out)
        if not result.ok:
            failures += 1
            print(f"       fix: {result.fix}", file=out)
    print("all checks passed" if not failures else f"{failures} problem(s) found", file=out)
    return 0 if not failures else 1
