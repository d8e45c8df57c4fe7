"""Shared test fixtures: the synthetic shop, the real dataset mirror, the session's tiny chain, a private
data home, a local HTTP server; each test's kind (marker) and `make test`'s xdist scheduler.

Tests of code paths use the seeded synthetic shop (``shop_sample``, no mirror, seconds). Tests of
what the real data shows use the mirror (``$RECFT_DATA_MIRROR``, set in CI) and skip with a reason
where it is not available; nothing needs internet but the packaging test, which asks the index.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

ONLINE_RETAIL = Path("online_retail") / "online_retail.parquet"
ROOT = Path(__file__).resolve().parents[1]


# Every test has one kind (a marker), chosen from what it needs, so that a contributor can run
# the fast ones: `pytest -m unit` (README, "Tests"). Registered in pyproject.toml.
KINDS = ("unit", "integration", "notebooks", "bundle", "browser")
# the fixture that decides a test's kind, most expensive first
KIND_OF_FIXTURE = {
    "offline_install": "bundle",
    "lab_folder": "browser",
    "tiny_run": "notebooks",
    "mirror_root": "integration",
    "onnx_bert": "integration",
    "smollm": "integration",
    "prompt_encoder": "integration",
}
KIND_OF_FILE = {"test_lab.py": "browser"}


def kind_of(item) -> str:
    """``unit`` unless a marker, the file or a fixture the test uses says otherwise (the committed
    notebooks' cells are marked in notebooks/conftest.py)."""
    marked = [kind for kind in KINDS if item.get_closest_marker(kind)]
    if marked:
        return marked[0]
    if item.path.name in KIND_OF_FILE:
        return KIND_OF_FILE[item.path.name]
    fixtures = getattr(item, "fixturenames", ())
    return next((kind for fixture, kind in KIND_OF_FIXTURE.items() if fixture in fixtures), "unit")


def pytest_itemcollected(item):
    """Give each test under tests/ its kind as it is collected."""
    item.add_marker(kind_of(item))


# `make test` runs two pytest-xdist workers with `--dist loadgroup`: a group runs in one worker, in
# order, and the rest is shared out test by test. The committed notebooks form a group (each reads
# the run folder the ones before it wrote), and so do the files whose tests share the session's tiny
# chain (executed once). The slowest single tests join one or the other, so that each worker has
# about 15 minutes of fixed work (measured on 2 cores) and the short tests fill in: the bring-your-
# own chain beside the committed notebooks (about 13 minutes), the benchmark commands beside the tiny
# chain (about 7). xdist 3.8 marks groups by rewriting a node id that pytest 9 no longer reads, so
# the scheduler below takes the groups from the node ids instead.
GROUP_OF_PATH = {
    "notebooks/": "committed-notebooks",
    "tests/test_own_data.py": "committed-notebooks",
    "tests/test_chain.py": "tiny-run",
    "tests/test_exercises.py": "tiny-run",
    "tests/test_fine_tuning.py::test_benchmark_models": "tiny-run",
    "tests/test_benchmark_rolling.py": "tiny-run",
    # one worker converts the base models' presets once (SmolLM2's is 516 MB)
    "tests/test_base_model_conversion.py": "base-models",
    # one tiny chain on a catalogue above 20,000 products (about 5 minutes), shared by the file's tests
    "tests/test_large_catalogue.py": "large-catalogue",
}


def group_of(nodeid: str) -> str:
    """The group a test runs in: its path's group, or itself (a group of one)."""
    return next((group for path, group in GROUP_OF_PATH.items() if nodeid.startswith(path)), nodeid)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups of :func:`group_of`."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PathGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return PathGroupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """Skip tests marked slow unless asked for with ``-m slow`` or ``RECFT_SLOW=1``."""
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("RECFT_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow (minutes): run with -m slow or RECFT_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mirror_root() -> Path:
    """The dataset mirror folder, or a skip when it is not configured or not there."""
    mirror = os.environ.get("RECFT_DATA_MIRROR")
    if not mirror:
        pytest.skip("RECFT_DATA_MIRROR is not set: these tests need the real dataset mirror")
    root = Path(mirror).expanduser()
    if not (root / ONLINE_RETAIL).is_file():
        pytest.skip(f"the mirror {root} has no {ONLINE_RETAIL}")
    return root


@pytest.fixture(scope="session")
def mirror_raw(mirror_root) -> pd.DataFrame:
    """The mirror's Online Retail table, read once per session. Do not modify it."""
    return pd.read_parquet(mirror_root / ONLINE_RETAIL)


@pytest.fixture(scope="session")
def sample(mirror_root):
    """400 real customers (twice the tiny profile's sample: the tests' thresholds were set on them) and their
    two windows: trains in seconds."""
    from recft_utils.datasets import load_interactions
    from recft_utils.evaluation import build_task, temporal_split

    interactions = load_interactions("online-retail", max_customers=400, seed=42)[0]
    split = temporal_split(interactions)
    return interactions, build_task(interactions, split, "valid"), build_task(interactions, split, "test")


@pytest.fixture(scope="session")
def shop_sample():
    """A synthetic shop (``recft_utils.datasets.synthetic``, seeded) and its two windows: what ``sample``
    gives, without the dataset mirror, in seconds. Synthetic: for code paths, never for results."""
    from recft_utils.datasets.synthetic import synthetic_shop
    from recft_utils.evaluation import build_task, temporal_split

    interactions = synthetic_shop(items=120, interactions=6000, seed=0)
    split = temporal_split(interactions)
    return interactions, build_task(interactions, split, "valid"), build_task(interactions, split, "test")


@pytest.fixture(scope="session")
def shop_file(shop_sample, tmp_path_factory) -> Path:
    """The synthetic shop as a bring-your-own parquet file, for commands that read a dataset file."""
    path = tmp_path_factory.mktemp("shop") / "synthetic_shop.parquet"
    shop_sample[0].to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def shop_vectors(shop_sample):
    """The synthetic catalogue encoded by the pretrained model."""
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue

    return encode_catalogue(shop_sample[0], SentenceEncoder.load())


@pytest.fixture(scope="session")
def vectors(sample):
    """The sample's catalogue encoded by the pretrained model (frozen text vectors)."""
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue

    return encode_catalogue(sample[0], SentenceEncoder.load())


def run_command(command, timeout, **kwargs) -> str:
    """Run a command; fail the test with the tail of its output if it fails."""
    result = subprocess.run(
        [str(c) for c in command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    if result.returncode:
        pytest.fail(
            f"`{' '.join(map(str, command))}` exited with {result.returncode}:\n{result.stdout[-6000:]}", pytrace=False
        )
    return result.stdout


def offline_env(tmp: Path, **extra) -> dict:
    """The environment of a room without a package index: no pip config, no index, a private data home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PIP_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "RECFT_DATA_MIRROR")
    }
    env.update(
        PIP_NO_INDEX="1",
        PIP_CONFIG_FILE=os.devnull,  # no pip.conf: its find-links or indexes would help
        RECFT_DATA_HOME=str(tmp / "data-home"),  # empty: the data must come from the bundle
        JUPYTER_PREFER_ENV_PATH="1",
        **extra,
    )  # the new venv's kernel, not a user-wide one
    return env


@dataclass
class OfflineInstall:
    bundle: Path  # the bundle folder (its wheels are removed once installed)
    tmp: Path
    install_log: str
    venv: Path
    run_dir: Path  # notebooks 01-02 (tiny), executed by the installed environment
    notebooks: list[str]


# What the offline install executes: the data, the kernel and the language model's tokenizer and
# weights (step 2 measures token lengths). The whole chain runs once per session in `tiny_run`.
OFFLINE_NOTEBOOKS = ["01", "02"]


@pytest.fixture(scope="session")
def offline_install(mirror_root, tmp_path_factory) -> OfflineInstall:
    """A bundle built by `python -m recft_utils.workshop.bundle`, installed by its install.sh into a fresh
    venv with the package index off, and the first notebooks run by it with the tiny profile."""
    import shutil
    import sys
    import time

    if not shutil.which("python3.11"):
        pytest.fail("python3.11 is not on the PATH: the bundle's install.sh needs it (install Python 3.11)")
    tmp = tmp_path_factory.mktemp("offline")
    out = tmp / "recft-offline"
    started = time.monotonic()
    # the archive only packs the folder; tests/test_offline_bundle.py checks it on a small folder
    run_command(
        [sys.executable, "-m", "recft_utils.workshop.bundle", "--out", out, "--no-archive"], timeout=1200, cwd=ROOT
    )
    built = time.monotonic()
    log = run_command(["bash", out / "install.sh"], timeout=1800, cwd=tmp, env=offline_env(tmp))
    installed = time.monotonic()
    shutil.rmtree(out / "wheels")  # 1 GB, installed now
    run_dir, venv = tmp / "tiny-run", out / "source" / ".venv"
    run_dir.mkdir()
    env = offline_env(
        tmp,
        RECFT_DATA_MIRROR=str(out / "data"),  # the tracked runs go to a private store
        RECFT_TRACKING_URI=f"sqlite:///{run_dir / 'mlflow.db'}",
    )
    run_command(
        [
            venv / "bin" / "recft",
            "run",
            "--profile",
            "tiny",
            "--run-dir",
            run_dir,
            "--notebooks",
            ",".join(OFFLINE_NOTEBOOKS),
        ],
        timeout=1800,
        cwd=out / "source",
        env=env,
    )
    print(
        f"\noffline bundle built in {built - started:.0f} s, installed in {installed - built:.0f} s, "
        f"notebooks {', '.join(OFFLINE_NOTEBOOKS)} in {time.monotonic() - installed:.0f} s"
    )
    yield OfflineInstall(out, tmp, log, venv, run_dir, OFFLINE_NOTEBOOKS)
    shutil.rmtree(venv, ignore_errors=True)  # 3.5 GB: not left in pytest's retained temporary folders


@pytest.fixture(scope="session")
def tiny_run(mirror_root, tmp_path_factory) -> Path:
    """The chain's notebooks executed with the tiny profile by ``runner.run_chain``, once per session
    (tests must not change it: copy it first)."""
    from unittest import mock

    from recft_utils.runner import run_chain

    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    run_dir.mkdir()
    # the kernels inherit the environment: the tracked runs go to the run's own store
    with mock.patch.dict(os.environ, {"RECFT_TRACKING_URI": f"sqlite:///{run_dir / 'mlflow.db'}"}):
        return run_chain(profile="tiny", run_dir=run_dir, progress=False)


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """A private RECFT_DATA_HOME, so no test reads or writes the user's cache."""
    home = tmp_path / "data_home"
    monkeypatch.setenv("RECFT_DATA_HOME", str(home))
    return home


class LocalServer:
    """A real HTTP server on 127.0.0.1 that serves bytes registered with :meth:`add`."""

    def __init__(self):
        self.routes: dict[str, tuple[bytes, int]] = {}
        self.requests: list[str] = []  # paths asked for, in order
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                body, length = server.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up; that is its business
                # HTTP/1.0: the connection closes here, so a short body is a dropped download.
                self.close_connection = True

            def log_message(self, *args):
                pass  # keep test output quiet

        # Port 0: the OS picks a free port.
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, path: str, body: bytes, content_length: int | None = None) -> str:
        """Serve ``body`` at ``path`` and return its URL.

        A ``content_length`` above ``len(body)`` announces more bytes than are
        sent, then closes the connection: an interrupted download.
        """
        self.routes[path] = (body, len(body) if content_length is None else content_length)
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"


@pytest.fixture
def http_server():
    """A :class:`LocalServer` running in a thread; always shut down afterwards."""
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)
