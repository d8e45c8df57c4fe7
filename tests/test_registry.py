"""Versioned model folders: promotion with a recorded reason, rollbacks that stack."""

import pytest

from recft_utils.errors import ParameterError, RecftError
from recft_utils.lifecycle.registry import ModelRegistry


def add_version(registry, name):
    folder = registry.new_version_dir(name)
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text("{}")
    return name


def test_promotions_are_recorded_and_rollbacks_go_back_one_champion_at_a_time(tmp_path):
    registry = ModelRegistry(tmp_path)
    assert registry.champion() is None and registry.versions() == []
    for name in ("v1", "v2", "v3"):
        add_version(registry, name)
        registry.promote(name, f"{name} won")
    assert registry.champion() == "v3" and registry.champion_dir() == tmp_path / "versions" / "v3"
    assert registry.rollback("v3 broke checkout")["version"] == "v2"
    assert registry.rollback()["version"] == "v1"
    history = registry.state()["history"]
    assert [h["action"] for h in history] == ["promote"] * 3 + ["rollback"] * 2
    assert history[3]["reason"] == "v3 broke checkout" and history[3]["previous"] == "v3"
    with pytest.raises(RecftError, match="no earlier champion"):
        registry.rollback()


def test_versions_are_never_overwritten_and_unknown_ones_never_promoted(tmp_path):
    registry = ModelRegistry(tmp_path)
    add_version(registry, "v1")
    with pytest.raises(ParameterError, match="already exists"):
        registry.new_version_dir("v1")
    with pytest.raises(ParameterError, match="Unknown version 'v9'"):
        registry.promote("v9", "typo")
    (tmp_path / "versions" / "half-written").mkdir()  # no metadata.json: not a version
    assert registry.versions() == ["v1"]
    with pytest.raises(RecftError, match="no champion yet"):
        registry.champion_dir()


def test_the_rollback_command_says_what_it_did(tmp_path, capsys):
    from recft_utils import cli

    registry = ModelRegistry(tmp_path)
    for name in ("v1", "v2"):
        add_version(registry, name)
        registry.promote(name, "better")
    assert cli.main(["rollback", "--registry", str(tmp_path), "--reason", "bad replay"]) == 0
    assert "champion is now v1 (was v2)" in capsys.readouterr().out
    assert registry.state()["history"][-1]["reason"] == "bad replay"
    assert cli.main(["rollback", "--registry", str(tmp_path)]) == 2
    assert "no earlier champion" in capsys.readouterr().err
