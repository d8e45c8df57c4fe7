"""Bad input stops `recft run` before any notebook runs, with a message naming the fix."""

import json
import shutil
from pathlib import Path
from unittest import mock

import pytest

from recft_utils import cli
from recft_utils.run import STEPS


def run(capsys, *args):
    try:
        code = cli.main(list(args))
    except SystemExit as exit:  # argparse refuses a value outside its choices itself
        code = exit.code
    return code, capsys.readouterr().err


@pytest.fixture
def no_notebooks_run(monkeypatch):
    """Fail the test if a notebook would be executed."""
    import recft_utils.runner as runner

    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was executed despite bad input")

    monkeypatch.setattr(runner, "execute", refuse)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--profile", "huge"], "invalid choice: 'huge' (choose from 'tiny', 'workshop', 'full')"),
        (["--dataset", "amazon"], "Unknown dataset 'amazon'"),
        (["-p", "colour", "red"], "Unknown parameter 'colour'"),
        (["-p", "seed", "abc"], "Parameter seed must be of type int"),
        (["-p", "test_days", "0"], "test_days must be a positive whole number"),
        (["-p", "data_end", "last tuesday"], "data_end must be a date"),
        (["--dataset", "synthetic:0:1000"], "ITEMS is 0"),
        (["--dataset", "synthetic:5000:1000"], "fewer than 10 per item"),
        (["--notebooks", "09"], "Unknown notebook number"),
    ],
)
def test_bad_parameters_are_refused_early(capsys, tmp_path, no_notebooks_run, args, message):
    code, err = run(capsys, "run", "--run-dir", str(tmp_path), *args)
    assert code == 2
    assert message in err


def test_missing_mirror_is_refused_early(capsys, tmp_path, monkeypatch, no_notebooks_run):
    monkeypatch.setenv("RECFT_DATA_MIRROR", str(tmp_path / "nowhere"))
    code, err = run(capsys, "run", "--run-dir", str(tmp_path / "run"))
    assert code == 2 and "RECFT_DATA_MIRROR" in err and "not a directory" in err


def test_corrupt_mirror_is_refused_early(capsys, tmp_path, monkeypatch, mirror_root, no_notebooks_run):
    copy = tmp_path / "mirror" / "online_retail"
    copy.mkdir(parents=True)
    (copy / "online_retail.parquet").write_bytes(b"not a parquet file at all")
    monkeypatch.setenv("RECFT_DATA_MIRROR", str(copy.parent))
    code, err = run(capsys, "run", "--run-dir", str(tmp_path / "run"))
    assert code == 2 and "not a readable parquet" in err
    shutil.copy(mirror_root / "online_retail" / "SHA256SUMS", copy / "SHA256SUMS")
    code, err = run(capsys, "run", "--run-dir", str(tmp_path / "run"))
    assert code == 2 and "Wrong checksum" in err


def test_bring_your_own_file_missing_a_column_is_refused_early(capsys, tmp_path, no_notebooks_run):
    shop = tmp_path / "shop.csv"
    shop.write_text("user_id,item_id,item_text\n1,A,red mug\n")
    code, err = run(capsys, "run", "--run-dir", str(tmp_path / "run"), "--dataset", str(shop))
    assert code == 2 and "timestamp" in err and "shop.csv" in err


def test_a_synthetic_shop_passes_the_checks_and_reaches_every_notebook(capsys, tmp_path, monkeypatch):
    """`recft run --dataset synthetic:ITEMS:INTERACTIONS` needs no file and no mirror."""
    import recft_utils.runner as runner

    seen = []
    monkeypatch.setenv("RECFT_DATA_MIRROR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(runner, "execute", lambda source, target, parameters, progress, kernel: seen.append(parameters))
    monkeypatch.setattr(runner, "WarmKernel", lambda folder: mock.Mock())  # no kernel for a notebook not run
    code, _ = run(capsys, "run", "--run-dir", str(tmp_path / "run"), "--dataset", "synthetic:300:6000")
    assert code == 0 and len(seen) == len(STEPS) and {p["dataset"] for p in seen} == {"synthetic:300:6000"}


def test_recft_run_writes_to_the_one_default_run_folder(capsys, tmp_path, monkeypatch):
    """Without --run-dir, `recft run` uses $RECFT_RUN_DIR (else runs/default), as the notebooks and the
    Makefile do, and records the chain in the run folder's Run.CHAIN_RECORD."""
    import recft_utils.runner as runner
    from recft_utils.run import Run

    seen = []
    monkeypatch.setenv("RECFT_RUN_DIR", str(tmp_path / "mine"))
    monkeypatch.setattr(runner, "execute", lambda source, target, parameters, progress, kernel: seen.append(target))
    monkeypatch.setattr(runner, "WarmKernel", lambda folder: mock.Mock())
    code, _ = run(capsys, "run", "--dataset", "synthetic:300:6000", "--notebooks", "01,02")
    assert code == 0 and [t.parent for t in seen] == [tmp_path / "mine"] * 2
    assert (tmp_path / "mine" / Run.CHAIN_RECORD).is_file()


def test_recft_run_outside_a_checkout_says_what_to_do_in_one_line(capsys, tmp_path, monkeypatch, no_notebooks_run):
    monkeypatch.chdir(tmp_path)  # no checkout above it: what an installed wheel sees
    code, err = run(capsys, "run", "--run-dir", str(tmp_path / "run"))
    assert code == 2 and "git clone" in err and "offline bundle" in err and len(err.strip().splitlines()) == 1


def test_recft_kernels_talk_over_ipc_at_an_absolute_socket_path(tmp_path, monkeypatch):
    """No TCP port to race for with a kernel started in parallel; the path works from any folder."""
    from pathlib import Path

    from recft_utils.notebook_execution import KERNEL_NAME, kernel_manager

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    first, second = kernel_manager(), kernel_manager()
    assert first.transport == "ipc" and first.kernel_name == KERNEL_NAME
    assert Path(first.ip).is_absolute() and Path(first.ip).parent == tmp_path / "runtime"
    assert first.ip != second.ip and len(first.ip) + len("-65535") < 107  # a Unix socket path's limit


def test_parse_value_follows_papermill():
    from recft_utils.runner import parse_value

    assert parse_value("3") == 3 and parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("none") is None
    assert parse_value("runs/x") == "runs/x"


def test_a_step_without_its_inputs_names_the_command(tmp_path):
    from recft_utils.errors import MissingArtefactError
    from recft_utils.run import Run

    with pytest.raises(MissingArtefactError, match="recft checkpoint --step 1"):
        Run(tmp_path).require("01_requirements")


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    from recft_utils.artefacts import atomic_path

    target = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from recft_utils.artefacts import atomic_directory, atomic_path

    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "report.html") as tmp:
            tmp.write_text("<p>shared</p>")
        with atomic_directory(tmp_path / "model") as tmp:
            (tmp / "file").write_text("x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755


def test_doctor_names_the_fix_for_missing_data(tmp_path, monkeypatch):
    import io

    from recft_utils.doctor import run_doctor

    monkeypatch.delenv("RECFT_DATA_MIRROR", raising=False)
    monkeypatch.setenv("RECFT_DATA_HOME", str(tmp_path))
    out = io.StringIO()
    assert run_doctor(out) == 1
    report = out.getvalue()
    assert "[FAIL] data" in report and "recft fetch-data" in report
    assert "[ok  ] model weights" in report and "[ok  ] kernel" in report


def test_doctor_passes_with_the_mirror(mirror_root):
    import io

    from recft_utils.doctor import run_doctor

    out = io.StringIO()
    assert run_doctor(out) == 0, out.getvalue()


@pytest.mark.parametrize(
    "notebook", sorted(Path(__file__).resolve().parents[1].glob("notebooks/**/*.ipynb")), ids=lambda path: path.name
)
def test_papermill_reads_every_parameter_of_every_notebook(notebook):
    """A parameter papermill cannot parse (e.g. '=' in its comment) could not be set with -p."""
    import re

    import nbformat
    import papermill as pm

    cell = next(c for c in nbformat.read(notebook, 4).cells if "parameters" in c.metadata.get("tags", []))
    assigned = re.findall(r"^(\w+)\s*(?::[^=]+)?=", cell.source, flags=re.M)
    assert list(pm.inspect_notebook(str(notebook))) == assigned


def test_reports_refuse_an_unknown_segment_or_a_run_without_step_5(capsys, tmp_path):
    assert cli.main(["reports", "--run-dir", str(tmp_path), "--segment", "colour"]) == 2
    assert "Unknown segment 'colour'; use one of country, activity, tenure" in capsys.readouterr().err
    assert cli.main(["reports", "--run-dir", str(tmp_path)]) == 2
    assert "recft checkpoint --step 5" in capsys.readouterr().err
    assert cli.main(["reports", "--run-dir", str(tmp_path), "--min-customers", "1"]) == 2  # before reading the run
    assert "fewer than 30 customers describes individuals" in capsys.readouterr().err


def test_doctor_warns_about_a_busy_port_without_failing():
    import socket

    from recft_utils.doctor import check_port

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        result = check_port(server.getsockname()[1])
    assert not result.ok and result.warning and "--port" in result.fix


def test_doctor_names_a_kernel_of_another_environment(tmp_path, monkeypatch):
    import json

    from recft_utils.doctor import check_kernel

    kernel = tmp_path / "kernels" / "recft"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/elsewhere/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (recft)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    result = check_kernel()
    assert not result.ok and "/elsewhere/bin/python" in result.detail and "recft install-kernel" in result.fix


def test_install_kernel_registers_this_python_with_c_level_output_kept_out_of_cells(tmp_path, monkeypatch):
    from recft_utils import notebook_execution
    from recft_utils.doctor import check_kernel

    monkeypatch.setattr("sys.prefix", str(tmp_path))
    folder = notebook_execution.install_kernel({"RECFT_DATA_MIRROR": "/data"})
    spec = json.loads((folder / "kernel.json").read_text())
    assert folder.is_relative_to(tmp_path) and spec["env"] == {"RECFT_DATA_MIRROR": "/data"}
    assert spec["argv"][-1] == "--IPKernelApp.capture_fd_output=False" and "{connection_file}" in spec["argv"]
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    assert check_kernel().ok
    spec["argv"] = spec["argv"][:-1]  # registered by an older recft: a warning that names the fix
    (folder / "kernel.json").write_text(json.dumps(spec))
    result = check_kernel()
    assert not result.ok and result.warning and "recft install-kernel" in result.fix


def test_doctor_tells_which_checkpoint_a_run_has(tmp_path, monkeypatch):
    from recft_utils.doctor import check_run
    from recft_utils.run import Run

    monkeypatch.setenv("RECFT_RUN_DIR", str(tmp_path))
    assert "recft checkpoint --step N" in check_run().detail
    for step in ("01_requirements", "02_data_preparation"):
        Run(tmp_path).start(step)  # 01, then 02: each after the one before
        Run(tmp_path).finish(step, {"profile": "tiny"})
    assert "steps 01, 02 complete (profile tiny); notebook 03a can start" in check_run().detail


def test_version_and_python_dash_m(capsys):
    import subprocess
    import sys

    from recft_utils import __version__

    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])
    assert stopped.value.code == 0 and capsys.readouterr().out.strip() == f"recft {__version__}"
    done = subprocess.run(
        [sys.executable, "-m", "recft_utils", "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == f"recft {__version__}"


def test_install_model_turns_a_pip_failure_into_one_line_that_names_the_fix(capsys, monkeypatch):
    import subprocess

    class Failed:
        returncode = 1

    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: Failed())
    assert cli.main(["install-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Could not install the language model") and "Traceback" not in err
    assert "--no-index --find-links wheels/" in err


def test_the_test_time_table_is_rendered_from_the_benchmark_record(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_tables import render_tests

    record = tmp_path / "tests.json"
    record.write_text(
        json.dumps(
            {
                "machine": {"cores": 2, "date": "2026-12-01"},
                "records": [{"selection": "fast (-m unit -n 2)", "seconds": 84.0, "passed": 204, "exit_code": 0}],
            }
        )
    )
    block = render_tests(record)
    assert "2 cores, 2026-12-01" in block and "| fast (-m unit -n 2) |       1.4 |      204 |" in block
