"""Start ``recft serve`` as a child process on a free port, wait until it answers, always stop it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref

from recft_utils.errors import RecftError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _stop_with_parent():  # Linux: the server gets SIGTERM if the notebook kernel dies
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ServiceProcess:
    """The HTTP service in a child process.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`; it is
    also stopped when this object is garbage-collected or Python exits, so a
    failing notebook cell cannot leave a server running.
    """

    def __init__(self, model_dir=None, host: str = "127.0.0.1", port: int | None = None,
                 startup_seconds: float = 120, registry=None):
        self.model_dir, self.registry, self.host = model_dir, registry, host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.startup_seconds = startup_seconds
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServiceProcess":
        self._log = tempfile.TemporaryFile(mode="w+")
        source = ["--registry", str(self.registry)] if self.registry is not None else ["--model", str(self.model_dir)]
        command = [sys.executable, "-m", "recft_utils.cli", "serve", *source, "--host", self.host,
                   "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        preexec_fn=_stop_with_parent if sys.platform == "linux" else None)
        self._finalizer = weakref.finalize(self, _terminate, self.process)
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RecftError(f"the service stopped during start-up:\n{self.output()[-2000:]}")
            try:
                self.health()
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        self.stop()
        raise RecftError(f"the service did not answer within {self.startup_seconds:.0f} s:\n{self.output()[-2000:]}")

    def output(self) -> str:
        """What the server printed so far."""
        self._log.seek(0)
        return self._log.read()

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
            return json.load(response)

    def stop(self) -> None:
        if self.process is not None:
            self._finalizer()

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
