"""Write environment.yml from pyproject.toml, so conda and pip cannot drift.

``python scripts/sync_environment.py --check`` exits 1 when environment.yml is
stale (tests/test_environment.py runs it).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = project["requires-python"]  # a conda match spec too: python>=3.11.5,<3.14
    lines = [
        "# Generated from pyproject.toml by scripts/sync_environment.py: do not edit by hand.",
        "# conda env create -f environment.yml && conda activate recft && recft install-model",
        "name: recft",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python{python}",
        "  - pip",
        "  - pip:",
        "      - -c constraints.txt",
        *[f"      - {dependency}" for dependency in project["dependencies"]],
        *[f"      - {dependency}" for dependency in project["optional-dependencies"]["test"]],
        "      - -e .",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    target = ROOT / "environment.yml"
    if "--check" in argv:
        if not target.exists() or target.read_text() != render():
            print("environment.yml is stale: run `python scripts/sync_environment.py`")
            return 1
        return 0
    target.write_text(render())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
