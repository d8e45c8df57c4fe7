"""Packaging: the lock matches constraints.txt, and every pin has a hashed wheel for each Python allowed.

The wheel check asks the package index (pip resolves without installing: ``--dry-run``), so it is
an ``integration`` test: `make setup` needs the same index.
"""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import lock  # noqa: E402  (scripts/lock.py)


def locked() -> dict[str, list[str]]:
    """``requirement -> [sha256, ...]`` of requirements.lock."""
    entries, current = {}, None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip().rstrip("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:"):
            entries[current].append(line.removeprefix("--hash=sha256:"))
        else:
            current = line
            entries[current] = []
    return entries


def test_the_lock_pins_exactly_constraints_txt_each_with_a_hash():
    entries = locked()
    assert list(entries) == lock.pins()
    assert all(len(hashes) >= 1 and all(len(h) == 64 for h in hashes) for hashes in entries.values())


def test_requires_python_is_the_versions_the_lock_was_made_for():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={lock.PYTHONS[0]},<3.{int(lock.PYTHONS[-1].split('.')[1]) + 1}"


@pytest.mark.integration
@pytest.mark.parametrize("python", lock.PYTHONS[1:])  # the running 3.11 is checked by `make setup` itself
def test_every_pinned_package_has_a_wheel_with_a_locked_hash(python, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--target",
            str(tmp_path / "target"),
            "--require-hashes",
            "--quiet",
            "-r",
            str(ROOT / "requirements.lock"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.integration
def test_an_installed_wheel_carries_the_report_notebook_and_the_templates(tmp_path):
    """`recft reports` and the deck outside a checkout: their files are package data, found through
    importlib.resources in the installed package (pip builds the wheel: the build backend from the index)."""
    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ there
    shutil.copytree(ROOT / "recft_utils", source / "recft_utils", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(source)]
    subprocess.run(build, check=True)
    wheel = zipfile.ZipFile(next(tmp_path.glob("recft-*.whl")))
    for name in (
        "reporting/segment_report.ipynb",
        "reporting/templates/model_card.md.j2",
        "workshop/templates/recft_slides/index.html.j2",
    ):
        assert f"recft_utils/{name}" in wheel.namelist()
    wheel.extractall(tmp_path / "site")
    probe = (
        "from recft_utils.reporting import documents, reports; from recft_utils.workshop import slides; "
        "print(reports.REPORT_NOTEBOOK, documents.TEMPLATES, slides.TEMPLATES, sep='\\n')"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
    ).stdout.split()
    assert len(found) == 3 and all(Path(p).is_relative_to(tmp_path / "site") and Path(p).exists() for p in found)
