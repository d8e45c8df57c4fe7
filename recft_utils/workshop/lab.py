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
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from recft_utils.errors import RecftError
from recft_utils.serving.process import ChildServer

KERNEL = "recft"
# No news feed, no update check, no toast asking about them: nothing leaves the machine.
QUIET_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


class LabProcess(ChildServer):
    """``jupyter lab`` (from this Python's environment) serving ``root_dir``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``url`` is the
    server's base URL; :meth:`lab_url` gives a page's address with the token. ``settings``
    maps a JupyterLab plugin id to user settings written into the private settings folder,
    e.g. ``{"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}``, on top of
    ``QUIET_SETTINGS``. ``env`` is the environment of the server and its kernels (default:
    this process's); the Jupyter and IPython folders in it are replaced by private ones.
    """

    name = "JupyterLab"

    def __init__(
        self,
        root_dir,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_seconds: float = 120,
        env: dict | None = None,
        kernel_name: str = KERNEL,
        settings: dict | None = None,
    ):
        super().__init__(host, port, startup_seconds)
        self.root_dir = Path(root_dir).resolve()
        self.token = secrets.token_hex(24)
        self.env = dict(os.environ if env is None else env)
        self.kernel_name = kernel_name
        self.settings = {**QUIET_SETTINGS, **(settings or {})}

    def _private_environment(self, private: Path) -> dict:
        env = dict(self.env)
        for variable, folder in [
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("IPYTHONDIR", "ipython"),
        ]:
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
        # settings, runtime files, IPython history: removed when the server stops
        self.private_dir = Path(tempfile.mkdtemp(prefix="recft-lab-"))
        return super().start()

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--ServerApp.ip={self.host}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--IdentityProvider.token={self.token}",
            f"--MappingKernelManager.default_kernel_name={self.kernel_name}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--ServerApp.allow_root=True")  # containers and CI machines run as root
        return command

    def popen_options(self) -> dict:
        return {"env": self._private_environment(self.private_dir), "cwd": self.root_dir}

    def ready(self):
        return self.status()

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
