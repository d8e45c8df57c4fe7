"""environment.yml is generated from pyproject.toml and must not drift from it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_environment.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_every_direct_dependency_is_pinned_in_constraints_within_its_range():
    import tomllib

    from packaging.requirements import Requirement

    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        pinned = pins.get(requirement.name.lower().replace("_", "-"))
        assert pinned and requirement.specifier.contains(pinned), f"{line}: constraints pin {pinned}"
