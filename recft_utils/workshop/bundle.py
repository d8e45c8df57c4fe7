"""The offline bundle: what a workshop room without internet needs, in one folder.

    python -m recft_utils.workshop.bundle --out dist/recft-offline   # DIR and DIR.tar.gz (`make offline-bundle`)
    python -m recft_utils.workshop.bundle --verify DIR               # wheels/ and data/ against MANIFEST.json

The bundle holds:

- ``wheels/``: every wheel that ``pip install -e source[test]`` needs at the versions of
  ``constraints.txt``, for the builder's platform (Linux x86_64, CPython 3.11), plus the build
  backend (setuptools, wheel), pip itself and the model package (without its PyTorch deps);
- ``source/``: the checkout as it is now: tracked files and untracked files git does not ignore
  (``git ls-files --cached --others --exclude-standard``), so uncommitted work is included and
  ``.venv/``, ``runs/``, ``dist/`` are not;
- ``data/``: the Online Retail parquet laid out like the mirror, sha256-verified;
- ``install.sh``, ``README.txt`` and ``MANIFEST.json`` (size and sha256 of every file).

The folder is built beside its final place and renamed into it, and so is the archive:
an interrupted build leaves the previous bundle intact. At the top this module imports only the
standard library and recft modules built on it alone, so ``install.sh`` can run ``--verify`` with
a bare Python 3.11 before anything is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
from pathlib import Path

from recft_utils.artefacts import atomic_directory, atomic_path, read_json, sha256_file, write_json
from recft_utils.config import MODEL_PIP_SPEC as MODEL_PACKAGE
from recft_utils.errors import DatasetError, RecftError, run_action

PIP_VERSION = "26.3"  # the pip `make setup` installs
MANIFEST = "MANIFEST.json"
VERIFIED = ("wheels", "data")  # must be bit-identical; source/ is the learners' to edit


def project_root() -> Path:
    """The checkout this module belongs to (the bundle is built from a clone, not an installed wheel)."""
    return Path(__file__).resolve().parents[2]


def requirements(root: Path) -> list[str]:
    """What ``wheels/`` must satisfy at constraints.txt's versions: recft's dependencies, its test extra, pip."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["test"], "wheel", f"pip=={PIP_VERSION}"]


def build_requirements(root: Path) -> list[str]:
    """recft's build backend (setuptools>=77): pip's isolated build takes the newest, not constraints.txt's
    pin (the runtime's setuptools, which an environment's own venv already has)."""
    return tomllib.loads((root / "pyproject.toml").read_text())["build-system"]["requires"]


def run_pip(args: list[str], what: str) -> None:
    """Run pip with this interpreter; its output goes to the terminal, a failure becomes a RecftError."""
    result = subprocess.run([sys.executable, "-m", "pip", *args])
    if result.returncode:
        raise RecftError(
            f"pip could not download {what} (exit {result.returncode}, its message is above): check the "
            f"connection to the package index (`pip config list` shows which one) and run the command again."
        )


def download_wheels(root: Path, folder: Path) -> None:
    """``pip download`` the wheels (binaries only: the room may have no compilers)."""
    run_pip(
        [
            "download",
            "--only-binary",
            ":all:",
            "-c",
            str(root / "constraints.txt"),
            "-d",
            str(folder),
            *requirements(root),
        ],
        "recft's pinned packages",
    )
    run_pip(
        ["download", "--only-binary", ":all:", "--no-deps", "-d", str(folder), *build_requirements(root)],
        "recft's build backend",
    )
    # the model package's own dependencies are PyTorch, which recft does not use
    run_pip(
        ["download", "--only-binary", ":all:", "--no-deps", "-d", str(folder), MODEL_PACKAGE],
        f"the model package {MODEL_PACKAGE}",
    )


def _git(root: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RecftError(
            f"`git {' '.join(args)}` failed in {root} ({exc}): build the bundle from a git "
            f"clone of recft, with git installed."
        ) from None


def source_files(root: Path, exclude: list[Path]) -> list[Path]:
    """The checkout's files, relative to ``root``: tracked plus untracked-but-not-ignored ones."""
    names = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split(b"\0")
    files = []
    for name in filter(None, names):
        path = root / os.fsdecode(name)
        # a tracked file deleted in the work tree is not listed; an output folder inside the checkout is skipped
        if (path.is_file() or path.is_symlink()) and not any(path.is_relative_to(e) for e in exclude):
            files.append(path.relative_to(root))
    return files


def copy_source(root: Path, files: list[Path], folder: Path) -> dict:
    """Copy ``files`` with their modes; return the commit they were taken at."""
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, folder / name, follow_symlinks=False)
    return {
        "commit": _git(root, "rev-parse", "HEAD").decode().strip(),
        "uncommitted_changes": bool(_git(root, "status", "--porcelain").strip()),
    }


def find_dataset() -> Path:
    """The parquet to bundle: the mirror's (``$RECFT_DATA_MIRROR``), else the data cache's."""
    from recft_utils.datasets import online_retail as retail

    path = retail.mirror_path()  # a DatasetError naming the fix when RECFT_DATA_MIRROR is wrong
    if path is None:
        path = retail.data_home() / retail.PARQUET_NAME
        if not path.is_file():
            raise DatasetError(
                f"No copy of Online Retail to bundle: RECFT_DATA_MIRROR is unset and nothing is cached at "
                f"{path}. Set RECFT_DATA_MIRROR to a mirror (a folder holding {retail.NAME}/"
                f"{retail.PARQUET_NAME}) or run `recft fetch-data` (needs internet) first."
            )
    return path


def copy_data(folder: Path) -> Path:
    """Copy the dataset into ``folder`` laid out like the mirror, verified by sha256 and content."""
    from recft_utils.datasets import online_retail as retail

    source = find_dataset()
    retail.check_mirror_checksum(source)  # the mirror's SHA256SUMS, when it has one
    expected = sha256_file(source)
    target = folder / retail.NAME / retail.PARQUET_NAME
    target.parent.mkdir(parents=True)
    shutil.copy2(source, target)
    if sha256_file(target) != expected:
        raise DatasetError(f"The copy of {source} in {target} differs from it: check the disk and build again.")
    # a truncated or altered table would only fail in the workshop room
    retail.check_content(retail.read_checked_parquet(target), str(source))
    (target.parent / "SHA256SUMS").write_text(f"{expected}  {retail.PARQUET_NAME}\n")
    if (source.parent / "README.md").is_file():  # the mirror's README carries the licence (CC BY 4.0)
        shutil.copy2(source.parent / "README.md", target.parent / "README.md")
    return target


def file_table(folder: Path) -> dict:
    """``{relative path: {bytes, sha256}}`` of every file under ``folder`` but the manifest."""
    return {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink() and path.name != MANIFEST
    }


def verify(folder: Path, parts: tuple[str, ...] = VERIFIED) -> int:
    """Check the files of ``parts`` against the manifest; return how many were checked."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise RecftError(f"{folder} has no {MANIFEST}: it is not a complete recft bundle; copy it again.")
    listed = {
        name: entry for name, entry in read_json(folder / MANIFEST)["files"].items() if name.split("/")[0] in parts
    }
    bad = [
        name
        for name, entry in listed.items()
        if not (folder / name).is_file()
        or (folder / name).stat().st_size != entry["bytes"]
        or sha256_file(folder / name) != entry["sha256"]
    ]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise RecftError(
            f"{len(bad)} file(s) of the bundle {folder} are missing or damaged ({shown}): copy the "
            f"bundle again, or unpack its .tar.gz afresh."
        )
    return len(listed)


def write_archive(folder: Path, archive: Path) -> Path:
    """``folder`` as a .tar.gz whose one top folder is ``folder.name``, written atomically."""
    with atomic_path(archive) as tmp:
        # level 1: the wheels are compressed already, a higher level costs minutes for a few MB
        with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
            tar.add(folder, arcname=folder.name)
    return archive


def megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


INSTALL_SH = r"""#!/usr/bin/env bash
# Install recft from this bundle, without internet:  bash install.sh [VENV]   (default VENV: source/.venv)
set -euo pipefail
BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${1:-$BUNDLE/source/.venv}"
PYTHON="${PYTHON:-python3.11}"
WHEELS="$BUNDLE/wheels"

fail() { echo "error: $*" >&2; exit 1; }
command -v "$PYTHON" >/dev/null ||
    fail "$PYTHON not found: install Python 3.11, or run PYTHON=/path/to/python3.11 bash install.sh"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
    fail "$PYTHON is not Python 3.11 (the wheels are for 3.11): run PYTHON=/path/to/python3.11 bash install.sh"
# pip looks in wheels/ and nowhere else: no index, and no pip.conf adding other sources or caps
export PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT PIP_REQUIREMENT VIRTUAL_ENV
PIP_FROM_BUNDLE=(install --quiet --no-index --find-links "$WHEELS")

echo "[1/6] checking wheels/ and data/ against MANIFEST.json"
PYTHONPATH="$BUNDLE/source" "$PYTHON" -m recft_utils.workshop.bundle --verify "$BUNDLE"
echo "[2/6] creating the environment $VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip "${PIP_FROM_BUNDLE[@]}" "pip==@PIP_VERSION@"
echo "[3/6] installing recft and its pinned packages (a few minutes)"
"$VENV/bin/python" -m pip "${PIP_FROM_BUNDLE[@]}" -c "$BUNDLE/source/constraints.txt" -e "$BUNDLE/source[test]"
echo "[4/6] installing the language model (@MODEL_PACKAGE@)"
"$VENV/bin/python" -m pip "${PIP_FROM_BUNDLE[@]}" --no-deps "@MODEL_PACKAGE@"
echo "[5/6] registering the Jupyter kernel 'Python (recft)', with the bundle's data"
# as `make setup` does, plus the data: JupyterLab started without env.sh still finds it
"$VENV/bin/recft" install-kernel --env RECFT_DATA_MIRROR "$BUNDLE/data"
printf '# source this file: the recft environment and the bundle'"'"'s data\nexport RECFT_DATA_MIRROR=%q\n. %q\n' \
    "$BUNDLE/data" "$VENV/bin/activate" > "$BUNDLE/env.sh"
DEFAULT_VENV=0
if [ "$(cd "$VENV" && pwd -P)" = "$(cd "$BUNDLE/source" && pwd -P)/.venv" ]; then
    DEFAULT_VENV=1
    touch "$VENV/.recft-setup"  # `make` in source/ sees a finished `make setup` and does not reinstall
fi
echo "[6/6] recft doctor"
# from source/: the doctor checks that recft runs inside a checkout
(cd "$BUNDLE/source" && RECFT_DATA_MIRROR="$BUNDLE/data" "$VENV/bin/recft" doctor) ||
    fail "recft doctor found the problem(s) above"

echo
echo "recft is installed. Next (run the notebooks from source/, where recft finds them):"
echo "  . \"$BUNDLE/env.sh\""
echo "  cd \"$BUNDLE/source\""
echo "  recft run --profile tiny      # a check of the whole chain, a few minutes"
if [ "$DEFAULT_VENV" = 1 ]; then
    echo "  make lab                      # JupyterLab with the Python (recft) kernel"
else
    echo "  jupyter lab --ServerApp.root_dir=notebooks"
fi
"""

README_TXT = """recft offline bundle
====================

Built {created} from commit {commit}{dirty}, for {platform}, CPython 3.11.

Install (no internet needed; Python 3.11 must be installed):

    bash install.sh              # creates source/.venv; or: bash install.sh /path/to/venv
    . ./env.sh                   # written by install.sh: activates the venv, sets RECFT_DATA_MIRROR
    cd source && make lab        # or: recft run --profile tiny

install.sh checks wheels/ and data/ against MANIFEST.json, installs pip, recft (editable, from
source/) with its test extra and the model package from wheels/ only, registers the Jupyter
kernel "Python (recft)" with RECFT_DATA_MIRROR pointing at data/, and ends with `recft doctor`.
Without python3.11 on the PATH: PYTHON=/path/to/python3.11 bash install.sh.
Install from the bundle where it will stay: the editable install and env.sh name its path.

Contents ({total}):

    wheels/   {wheels} wheels ({wheels_size}): recft's pinned packages, setuptools, wheel, pip {pip},
              {model} (without its PyTorch dependencies)
    source/   {sources} files ({source_size}): the recft checkout, notebooks, Makefile and tests
    data/     {data_size}: online_retail/online_retail.parquet (UCI Online Retail, CC BY 4.0,
              doi:10.24432/C5BW33), laid out like a RECFT_DATA_MIRROR
    install.sh, README.txt, MANIFEST.json (size and sha256 of every file)
"""


def _part(files: dict, part: str) -> tuple[int, str]:
    sizes = [entry["bytes"] for name, entry in files.items() if name.startswith(part + "/")]
    return len(sizes), megabytes(sum(sizes))


def write_docs(folder: Path, origin: dict) -> dict:
    """Write install.sh and README.txt, then MANIFEST.json over everything; return the manifest."""
    install = folder / "install.sh"
    install.write_text(INSTALL_SH.replace("@PIP_VERSION@", PIP_VERSION).replace("@MODEL_PACKAGE@", MODEL_PACKAGE))
    install.chmod(0o755)
    created = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    platform = sysconfig.get_platform()
    files = file_table(folder)
    (wheels, wheels_size), (sources, source_size), (_, data_size) = (
        _part(files, part) for part in ("wheels", "source", "data")
    )
    readme = README_TXT.format(
        created=created,
        commit=origin["commit"][:12],
        platform=platform,
        dirty=" with uncommitted changes" if origin["uncommitted_changes"] else "",
        total=megabytes(sum(e["bytes"] for e in files.values())),
        wheels=wheels,
        wheels_size=wheels_size,
        pip=PIP_VERSION,
        model=MODEL_PACKAGE,
        sources=sources,
        source_size=source_size,
        data_size=data_size,
    )
    (folder / "README.txt").write_text(readme)
    files = file_table(folder)
    manifest = {
        "created": created,
        **origin,
        "platform": platform,
        "python": "3.11",
        "pip": PIP_VERSION,
        "model_package": MODEL_PACKAGE,
        "install": "bash install.sh [VENV]",
        "total_bytes": sum(entry["bytes"] for entry in files.values()),
        "files": files,
    }
    write_json(folder / MANIFEST, manifest)
    return manifest


def build(out: Path, archive: bool = True, root: Path | None = None) -> dict:
    """Build the bundle folder ``out`` (and ``out.tar.gz``); return its manifest."""
    if sys.version_info[:2] != (3, 11):
        raise RecftError(
            f"Build the bundle with Python 3.11 (this is {sys.version.split()[0]}): the wheels are "
            f"chosen for the interpreter that downloads them. Use `make offline-bundle`."
        )
    root = root or project_root()
    out = Path(out).resolve()
    tarball = out.with_name(out.name + ".tar.gz")
    # listed before the temporary folder exists, so an output inside the checkout never copies itself
    files = source_files(root, exclude=[out, tarball])
    with atomic_directory(out) as tmp:
        print("[1/5] data: Online Retail, verified by sha256 and its content facts", flush=True)
        copy_data(tmp / "data")
        print(f"[2/5] source: {len(files)} files of {root}", flush=True)
        origin = copy_source(root, files, tmp / "source")
        print("[3/5] wheels: pip download (binaries only, versions of constraints.txt)", flush=True)
        download_wheels(root, tmp / "wheels")
        print("[4/5] install.sh, README.txt, MANIFEST.json (sha256 of every file)", flush=True)
        manifest = write_docs(tmp, origin)
    print(f"bundle: {out} ({megabytes(manifest['total_bytes'])} in {len(manifest['files']) + 1} files)")
    if archive:
        print(f"[5/5] archive: {tarball.name}", flush=True)
        write_archive(out, tarball)
        print(f"archive: {tarball} ({megabytes(tarball.stat().st_size)})")
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recft_utils.workshop.bundle", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--out", type=Path, help="the bundle folder to write, e.g. dist/recft-offline")
    action.add_argument(
        "--verify", type=Path, metavar="DIR", help="check a bundle's wheels/ and data/ against its manifest"
    )
    parser.add_argument(
        "--archive", action=argparse.BooleanOptionalAction, default=True, help="also write DIR.tar.gz (default: yes)"
    )
    args = parser.parse_args(argv)

    def act() -> None:
        if args.verify:
            print(f"{verify(args.verify)} files match {MANIFEST}")
        else:
            build(args.out, archive=args.archive)

    return run_action(act)


if __name__ == "__main__":
    sys.exit(main())
