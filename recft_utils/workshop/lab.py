"""Start JupyterLab as a child process on a free port, wait until it answers, always stop it.

Why: the browser test of the notebooks (``tests/test_lab.py``) needs the same JupyterLab that
``make lab`` opens, started the same way (127.0.0.1, the ``recft`` kernel by default), but on a
port nobody else uses, with a token only the test knows, and without reading or writing the
user's Jupyter settings, workspaces, runtime files or IPython history: every such folder is a
private temporary one, removed when the server stops. The server is stopped on
:meth:`LabProcess.stop`, at the end of a ``with`` block, when the object is garbage-collected,
when Python exits, and (on Linux) when the Python process that started it dies, so a failing
test cannot leave a server or its kernels running.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from pathlib import Path

from recft_utils.errors import RecftError
from recft_utils.serving.process import _stop_with_parent, _terminate, free_port

KERNEL = "recft"
# No news feed, no update check, no toast asking about them: nothing leaves the machine.
QUIET_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def _stop_and_clean(process: subprocess.Popen, private: str, log) -> None:
    _terminate(process)  # SIGTERM: the server shuts its kernels down before it exits
    log.close()
    shutil.rmtree(private, ignore_errors=True)


class LabProcess:
    """``jupyter lab`` (from this Python's environment) serving ``root_dir``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``url`` is the
    server's base URL; :meth:`lab_url` gives a page's address with the token. ``settings``
    maps a JupyterLab plugin id to user settings written into the private settings folder,
    e.g. ``{"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}``, on top of
    ``QUIET_SETTINGS``. ``env`` is the environment of the server and its kernels (default:
    this process's); the Jupyter and IPython folders in it are replaced by private ones.
    """

    def __init__(self, root_dir, host: str = "127.0.0.1", port: int | None = None,
                 startup_seconds: float = 120, env: dict | None = None,
                 kernel_name: str = KERNEL, settings: dict | None = None):
        self.root_dir = Path(root_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.token = secrets.token_hex(24)
        self.startup_seconds = startup_seconds
        self.env = dict(os.environ if env is None else env)
        self.kernel_name = kernel_name
        self.settings = {**QUIET_SETTINGS, **(settings or {})}
        self.process: subprocess.Popen | None = None
        self.private_dir: Path | None = None  # settings, runtime files, IPython history; removed on stop

    def _private_environment(self, private: Path) -> dict:
        env = dict(self.env)
        for variable, folder in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                                 ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
            (private / folder).mkdir()
            env[variable] = str(private / folder)
        # With a private data folder and no JUPYTER_PATH, the `recft` kernel is the one installed
        # in this environment (sys.prefix), never a stale copy in the user's folder.
        env.pop("JUPYTER_PATH", None)
        env["JUPYTER_PLATFORM_DIRS"] = "1"  # jupyter_core's future default; silences its warning
        env.pop("JUPYTER_TOKEN", None)
        for plugin, values in self.settings.items():
            package, _, name = plugin.partition(":")
            path = private / "config" / "lab" / "user-settings" / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        return env

    def start(self) -> "LabProcess":
        if not self.root_dir.is_dir():
            raise RecftError(f"JupyterLab's root folder {self.root_dir} does not exist.")
        private = self.private_dir = Path(tempfile.mkdtemp(prefix="recft-lab-"))
        self._log = tempfile.TemporaryFile(mode="w+")
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            f"--ServerApp.ip={self.host}", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}", f"--IdentityProvider.token={self.token}",
            f"--MappingKernelManager.default_kernel_name={self.kernel_name}",
            "--ServerApp.terminals_enabled=False", "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--ServerApp.allow_root=True")  # containers and CI machines run as root
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=self._private_environment(private), cwd=self.root_dir,
                                        preexec_fn=_stop_with_parent if sys.platform == "linux" else None)
        self._finalizer = weakref.finalize(self, _stop_and_clean, self.process, str(private), self._log)
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.output()[-3000:]
                self.stop()
                raise RecftError(f"JupyterLab stopped during start-up (exit code {self.process.returncode}):\n{log}")
            try:
                self.status()
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        log = self.output()[-3000:]
        self.stop()
        raise RecftError(f"JupyterLab did not answer on {self.url} within {self.startup_seconds:g} s "
                         f"(`{' '.join(command[:3])} ...`); the end of its log:\n{log}")

    def output(self) -> str:
        """What the server printed so far (empty once it is stopped)."""
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read()

    def api(self, path: str):
        """GET ``/api/<path>`` with the token; the decoded JSON."""
        request = urllib.request.Request(f"{self.url}/api/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def status(self) -> dict:
        """``/api/status``: started, last activity, kernels and connections."""
        return self.api("status")

    def lab_url(self, path: str = "") -> str:
        """The address of ``/lab/tree/<path>`` that logs a browser in with the token."""
        return f"{self.url}/lab/tree/{urllib.parse.quote(path)}?token={self.token}"

    def stop(self) -> None:
        if self.process is not None:
            self._finalizer()

    def __enter__(self) -> "LabProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
