"""Shared test fixtures: the real dataset mirror, a private data home, a local HTTP server.

Tests that need data use the real mirror (``$RECFT_DATA_MIRROR``, set in CI)
and skip with a reason where it is not available; nothing needs internet.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

ONLINE_RETAIL = Path("online_retail") / "online_retail.parquet"


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
    """400 real customers (the tiny profile's sample) and their two windows: trains in seconds."""
    from recft_utils.datasets import load_interactions
    from recft_utils.evaluation import build_task, temporal_split

    interactions = load_interactions("online-retail", max_customers=400, seed=42)[0]
    split = temporal_split(interactions)
    return interactions, build_task(interactions, split, "valid"), build_task(interactions, split, "test")


@pytest.fixture(scope="session")
def vectors(sample):
    """The sample's catalogue encoded by the pretrained model (frozen text vectors)."""
    from recft_utils.models.two_tower import encode_catalogue
    from recft_utils.text import SentenceEncoder

    return encode_catalogue(sample[0], SentenceEncoder.load())


@pytest.fixture(scope="session")
def tiny_run(mirror_root, tmp_path_factory) -> Path:
    """The six notebooks executed with the tiny profile, once per session (tests must not change it)."""
    from recft_utils.runner import run_chain

    run_dir = tmp_path_factory.mktemp("tiny-run")
    with pytest.MonkeyPatch.context() as patch:  # the tracked runs go to a private store, not the user's
        patch.setenv("RECFT_TRACKING_URI", f"sqlite:///{run_dir / 'mlflow.db'}")
        run_chain(profile="tiny", run_dir=run_dir, progress=False)
    return run_dir


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
