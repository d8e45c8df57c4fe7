"""Versioned model folders and which one is the champion, with every decision recorded.

Layout of a registry folder::

    versions/<version>/     one folder per version, never modified:
        metadata.json, ...  the exported model folder (see recft_utils.serving.export): what a service loads
        two_tower.keras     the trained Keras model (what the next retrain warm-starts from)
        training.json       how it was trained: as-of day, windows, seed, settings, epochs
    champion.json           {"version": ..., "history": [every promotion and rollback, with its reason]}

Writers only ever add a complete version folder (an atomic rename) and then
replace ``champion.json`` atomically, so a service watching the registry
sees either the old champion or the new one, never a half-written model.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from recft_utils.artefacts import display_path, read_json, write_json
from recft_utils.errors import ParameterError, RecftError
from recft_utils.serving.model_folder import METADATA

CHAMPION = "champion.json"
VERSION_MODEL = "two_tower.keras"
VERSION_TRAINING = "training.json"


class ModelRegistry:
    """A registry folder (see the module for its layout): its versions, their files and the champion."""

    def __init__(self, root):
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def versions(self) -> list[str]:
        """Complete version folders, oldest first (their names start with the export time)."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir() if (p / METADATA).is_file())

    def version_dir(self, version: str) -> Path:
        """The folder of a complete ``version`` (an error listing the known ones otherwise)."""
        if version not in self.versions():
            raise ParameterError(f"Unknown version {version!r} in {self.root}; known: {self.versions()}.")
        return self.versions_dir / version

    def training(self, version: str) -> dict:
        """How ``version`` was trained (its ``training.json``)."""
        return read_json(self.version_dir(version) / VERSION_TRAINING)

    def model_file(self, version: str) -> Path:
        """``version``'s trained Keras model."""
        return self.version_dir(version) / VERSION_MODEL

    def new_version_dir(self, version: str) -> Path:
        """Where to export a new version (pass it to ``export_recommender``, which writes atomically)."""
        folder = self.versions_dir / version
        if folder.exists():
            raise ParameterError(f"Version {version} already exists in {self.root}; versions are never overwritten.")
        return folder

    def state(self) -> dict:
        path = self.root / CHAMPION
        return read_json(path) if path.is_file() else {"version": None, "history": []}

    def champion(self) -> str | None:
        return self.state()["version"]

    def champion_dir(self) -> Path:
        version = self.champion()
        if version is None:
            raise RecftError(
                f"{self.root} has no champion yet: train its first version, which becomes the champion, with "
                f"`recft retrain --as-of YYYY-MM-DD --registry {self.root}` (or run notebook 06)."
            )
        return self.version_dir(version)

    def promote(self, version: str, reason: str, decision: dict | None = None) -> dict:
        """Make ``version`` the champion, recording why (e.g. a :func:`promotion_decision`)."""
        return self._record(version, "promote", reason, decision)

    def keep(self, version: str, reason: str, decision: dict | None = None) -> dict:
        """Record that ``version`` was evaluated and not promoted (the champion stays)."""
        if version not in self.versions():
            raise ParameterError(f"Unknown version {version!r} in {self.root}; known: {self.versions()}.")
        state = self.state()
        entry = self._entry(version, "keep", reason, state["version"], decision)
        write_json(self.root / CHAMPION, {**state, "history": [*state["history"], entry]})
        return entry

    def rollback(self, reason: str = "manual rollback") -> dict:
        """Return to the champion promoted before the current one (rollbacks stack: two go back two)."""
        stack = champion_stack(self.state()["history"])
        if len(stack) < 2:
            raise RecftError(
                f"{display_path(self.root)}: no earlier champion to roll back to (champions so far: {stack})."
            )
        return self._record(stack[-2], "rollback", reason, None)

    def _record(self, version: str, action: str, reason: str, decision: dict | None) -> dict:
        if version not in self.versions():
            raise ParameterError(f"Unknown version {version!r} in {self.root}; known: {self.versions()}.")
        state = self.state()
        entry = self._entry(version, action, reason, state["version"], decision)
        state = {"version": version, "history": [*state["history"], entry]}
        write_json(self.root / CHAMPION, state)  # atomic: a watcher reads the old file or the new one
        return entry

    @staticmethod
    def _entry(version, action, reason, previous, decision) -> dict:
        return {
            "version": version,
            "action": action,
            "reason": reason,
            "previous": previous,
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **({"decision": decision} if decision else {}),
        }


def champion_stack(history: list[dict]) -> list[str]:
    """The champions in force, oldest first: a promotion pushes a version, a rollback pops the top one."""
    stack: list[str] = []
    for entry in history:
        if entry["action"] == "promote":
            stack.append(entry["version"])
        elif entry["action"] == "rollback" and stack:
            stack.pop()
    return stack
