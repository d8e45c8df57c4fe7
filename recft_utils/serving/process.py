"""Servers in child processes: started on a free local port, waited for, always stopped.

:class:`ChildServer` owns the life of one child process; :class:`ServiceProcess` is
``recft serve`` (notebook 04, the benchmarks, the tests) and
:class:`recft_utils.workshop.lab.LabProcess` is JupyterLab (the browser test). A server
is stopped on :meth:`~ChildServer.stop`, at the end of a ``with`` block, when the object
is garbage-collected, when Python exits, and (on Linux) when the process that started it
dies, so a failing notebook cell or test cannot leave one running.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path

from recft_utils.errors import RecftError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def stop_with_parent() -> None:
    """In the child, before it runs: SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def terminate(process: subprocess.Popen, log=None, private_dir: str | None = None) -> None:
    """SIGTERM (a server shuts down cleanly), SIGKILL after 10 s; then close its log and remove its folder."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if log is not None:
        log.close()
    if private_dir is not None:
        shutil.rmtree(private_dir, ignore_errors=True)


class ChildServer:
    """A server in a child process. Subclasses give :meth:`command` and :meth:`ready`.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``url`` is the
    server's base URL; :meth:`output` what it printed so far.
    """

    name = "the server"  # for messages
    ready_errors = (urllib.error.URLError, ConnectionError, TimeoutError)  # "not answering yet"

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, startup_seconds: float = 120):
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.startup_seconds = startup_seconds
        self.process: subprocess.Popen | None = None
        self.private_dir: Path | None = None  # a folder of the server's own, removed when it stops

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self):
        """A request that succeeds once the server answers (raises one of ``ready_errors`` before)."""
        raise NotImplementedError

    def popen_options(self) -> dict:
        """Extra ``subprocess.Popen`` arguments (``env``, ``cwd``), computed at start."""
        return {}

    def start(self):
        self._log = tempfile.TemporaryFile(mode="w+")
        command, options = self.command(), self.popen_options()
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=stop_with_parent if sys.platform == "linux" else None,
            **options,
        )
        # a function and its arguments, not a bound method: the finalizer must not keep self alive
        private = None if self.private_dir is None else str(self.private_dir)
        self._finalizer = weakref.finalize(self, terminate, self.process, self._log, private)
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.output()[-3000:]
                self.stop()
                raise RecftError(f"{self.name} stopped during start-up (exit code {self.process.returncode}):\n{log}")
            try:
                self.ready()
                return self
            except self.ready_errors:
                time.sleep(0.05)
        log = self.output()[-3000:]
        self.stop()
        raise RecftError(
            f"{self.name} did not answer on {self.url} within {self.startup_seconds:g} s "
            f"(`{' '.join(command[:3])} ...`); the end of its log:\n{log}"
        )

    def output(self) -> str:
        """What the server printed so far (empty once it is stopped)."""
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        if self.process is not None:
            self._finalizer()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ServiceProcess(ChildServer):
    """``recft serve`` of an exported model folder (or a registry's champion) in a child process."""

    name = "the service"

    def __init__(
        self,
        model_dir=None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_seconds: float = 120,
        registry=None,
    ):
        super().__init__(host, port, startup_seconds)
        self.model_dir, self.registry = model_dir, registry

    def command(self) -> list[str]:
        source = ["--registry", str(self.registry)] if self.registry is not None else ["--model", str(self.model_dir)]
        return [
            sys.executable,
            "-m",
            "recft_utils.cli",
            "serve",
            *source,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    def ready(self):
        return self.health()

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
            return json.load(response)
