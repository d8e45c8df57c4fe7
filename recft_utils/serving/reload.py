"""Hot reload: a thread that watches a model registry and swaps in its new champion between requests."""

from __future__ import annotations

import sys
import threading

from recft_utils.serving.model_folder import ServedModel


class RegistryWatcher(threading.Thread):
    """Every ``interval`` seconds (a look is one small JSON read, so a quarter of a second costs nothing),
    compare the registry's champion with the served model's folder;
    when they differ, load the champion completely (checksums included) and swap it in.

    A champion that fails to load is reported and the current model keeps serving.
    """

    def __init__(self, registry, holder, interval: float = 0.25):
        super().__init__(daemon=True, name="registry-watcher")
        self.registry, self.holder, self.interval = registry, holder, interval
        self._stopped = threading.Event()
        self.failed: str | None = None  # the last version that failed to load

    def check(self) -> bool:
        """One look at the registry; True when a new model was swapped in."""
        champion = self.registry.champion()
        if champion is None or champion == self.holder.model.folder.name or champion == self.failed:
            return False
        try:
            model = ServedModel.load(self.registry.version_dir(champion))
        except Exception as exc:  # keep serving the current model, say why
            self.failed = champion
            print(
                f"reload of {champion} failed, still serving {self.holder.model.version}: {exc}",
                file=sys.stderr,
                flush=True,
            )
            return False
        self.holder.swap(model)
        print(f"reloaded: now serving {model.version}", flush=True)
        return True

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self._stopped.set()
