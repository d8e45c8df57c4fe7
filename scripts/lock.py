"""Write requirements.lock: every pin of constraints.txt with the sha256 of its wheels.

    python scripts/lock.py            # make lock

For each Python version recft allows (PYTHONS), pip resolves the pins without installing
anything (``pip install --dry-run --report``, binaries only, this machine's platform) and
reports the wheel it would take and its hash. The lock lists every hash, so
``pip install --require-hashes -r requirements.lock`` (what ``make setup`` runs) accepts the
wheel of any of those versions and nothing else. ``tests/test_packaging.py`` checks the lock
against the index for each version.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.11.5", "3.12", "3.13")  # pyproject.toml's requires-python (soupsieve needs 3.11.5)
HEADER = """\
# Every package of the tested environment, pinned, with the sha256 of its wheels for CPython
# {pythons} on Linux x86_64. Generated from constraints.txt by `make lock` (scripts/lock.py);
# `make setup` installs it with `pip install --require-hashes`.
"""


def pins(constraints: Path = ROOT / "constraints.txt") -> list[str]:
    """The ``name==version`` lines of constraints.txt."""
    return [line.strip() for line in constraints.read_text().splitlines() if line.strip() and not line.startswith("#")]


def resolve(requirements: list[str], python: str) -> dict[str, tuple[str, str]]:
    """``name -> (wheel file, sha256)`` of each requirement, for CPython ``python``, without installing."""
    with tempfile.TemporaryDirectory() as tmp:
        listed, report = Path(tmp) / "requirements.txt", Path(tmp) / "report.json"
        listed.write_text("\n".join(requirements) + "\n")
        subprocess.run(
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
                str(Path(tmp) / "target"),
                "--report",
                str(report),
                "--quiet",
                "-r",
                str(listed),
            ],
            check=True,
        )
        resolved = json.loads(report.read_text())["install"]
    return {
        entry["metadata"]["name"].lower().replace("_", "-"): (
            entry["download_info"]["url"].rsplit("/", 1)[-1],
            entry["download_info"]["archive_info"]["hashes"]["sha256"],
        )
        for entry in resolved
    }


def lock_text(requirements: list[str], hashes: dict[str, set[str]]) -> str:
    lines = [HEADER.format(pythons=", ".join(PYTHONS))]
    for requirement in requirements:
        name = requirement.split("==")[0].lower().replace("_", "-")
        digests = sorted(hashes[name])
        lines.append(" \\\n".join([requirement, *(f"    --hash=sha256:{digest}" for digest in digests)]))
    return "\n".join(lines) + "\n"


def main() -> int:
    requirements = pins()
    hashes: dict[str, set[str]] = {}
    for python in PYTHONS:
        for name, (_, digest) in resolve(requirements, python).items():
            hashes.setdefault(name, set()).add(digest)
        print(f"CPython {python}: {len(requirements)} wheels resolved")
    (ROOT / "requirements.lock").write_text(lock_text(requirements, hashes))
    print(f"wrote requirements.lock ({len(requirements)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
