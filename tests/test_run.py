"""The run folder (`recft_utils.run.Run`) and the profile table: one place each, bad input named."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from recft_utils.artefacts import read_item_vectors, write_item_vectors
from recft_utils.config import PROFILES, check_profile, get_profile
from recft_utils.errors import MissingArtefactError, ParameterError
from recft_utils.run import LAYOUT, MANIFEST, STEPS, Run


def test_a_step_is_complete_exactly_when_its_manifest_is_written(tmp_path):
    run = Run(tmp_path)
    out = run.start("01_requirements")
    (out / Run.PROTOCOL).write_text("{}")
    assert run.complete_steps() == {}  # written, not finished
    run.finish("01_requirements", {"profile": "tiny"})
    assert run.complete_steps() == {"01_requirements": "tiny"} and run.profile_of("01_requirements") == "tiny"
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["layout"] == LAYOUT and set(manifest["files"]) == {Run.PROTOCOL}
    provenance = manifest["provenance"]
    assert provenance["packages"]["recft"] and provenance["packages"]["pandas"] == pd.__version__
    assert provenance["python"] and "git_commit" in provenance
    run.start("01_requirements")  # a rerun: incomplete again until it finishes
    assert run.complete_steps() == {}


def test_start_checks_the_steps_before_and_their_profile(tmp_path):
    run = Run(tmp_path)
    with pytest.raises(MissingArtefactError, match=r"01_requirements is missing.*recft checkpoint --step 1"):
        run.start("02_data_preparation")
    run.start("01_requirements")
    run.finish("01_requirements", {"profile": "tiny"})
    run.require_before("02_data_preparation", "tiny")
    with pytest.raises(MissingArtefactError, match="made with profile 'tiny'.*profile = 'tiny'"):
        run.require_before("02_data_preparation", "workshop")


def test_readers_name_the_step_that_makes_the_file(tmp_path):
    run = Run(tmp_path)
    with pytest.raises(MissingArtefactError, match="03a_two_tower is missing.*--step 3a"):
        run.item_vectors()
    with pytest.raises(MissingArtefactError, match="03b_fine_tuning is missing.*--step 3 "):
        run.model_config()
    with pytest.raises(MissingArtefactError, match="04_serving.*--step 4"):
        run.exported_model_dir()
    for step in STEPS[:2]:
        run.start(step)
        run.finish(step, {"profile": "tiny"})
    with pytest.raises(
        MissingArtefactError, match="interactions.parquet is missing although 02_data_preparation is complete"
    ):
        run.interactions()


def test_item_vectors_come_back_as_written(tmp_path):
    vectors = pd.DataFrame(np.arange(6, dtype=np.float32).reshape(2, 3), index=pd.Index(["b", "a"], name="item_id"))
    run = Run(tmp_path)
    for step in STEPS[:3]:
        out = run.start(step)
        if step == "03a_two_tower":
            write_item_vectors(out / Run.ITEM_VECTORS, vectors)
        run.finish(step, {"profile": "tiny"})
    for read in (run.item_vectors(), read_item_vectors(run.path(STEPS[2]) / Run.ITEM_VECTORS)):
        pd.testing.assert_frame_equal(read, vectors)  # the same rows, order, dtype and integer columns


def test_an_unknown_step_and_an_older_layout_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ParameterError, match="Unknown step '03_training'; the steps are 01_requirements"):
        Run(tmp_path).require("03_training")
    old = tmp_path / "01_requirements"
    old.mkdir()
    (old / MANIFEST).write_text(json.dumps({"parameters": {"profile": "tiny"}, "files": {}}))  # layout 1: no key
    with pytest.raises(
        MissingArtefactError,
        match=r"older recft \(run-folder layout 1; this version reads layout "
        rf"{LAYOUT}\).*recft checkpoint --step 1",
    ):
        Run(tmp_path).complete_steps()


def test_report_tables_need_steps_1_to_4_and_the_tables_not_step_5_s_manifest(tmp_path):
    run = Run(tmp_path)
    for step in STEPS[: STEPS.index("05_collaboration")]:
        run.start(step)
        run.finish(step, {"profile": "tiny"})
    out = run.start("05_collaboration")
    with pytest.raises(MissingArtefactError, match="customers.parquet, recommendations.parquet, purchases.parquet"):
        run.report_tables()
    for name in Run.REPORT_TABLES:
        pd.DataFrame({"user_id": ["u1"]}).to_parquet(out / f"{name}.parquet")
    assert set(run.report_tables()) == set(Run.REPORT_TABLES)


def test_the_default_run_folder_honours_recft_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RECFT_RUN_DIR", str(tmp_path / "mine"))
    assert Run().folder == tmp_path / "mine"
    monkeypatch.delenv("RECFT_RUN_DIR")
    assert Run().folder.parts[-2:] == ("runs", "default")


def test_every_profile_has_every_setting_and_a_missing_one_is_named():
    for name in PROFILES:
        assert get_profile(name).name == name
    broken = dataclasses.replace(PROFILES["tiny"], training={**PROFILES["tiny"].training, "chapter": {"seeds": [0]}})
    with pytest.raises(
        ParameterError,
        match=r"Profile 'tiny' has no setting .*training\.chapter\.top_k_steps.*"
        r"recft_utils/config\.py",
    ):
        check_profile(broken)
    with pytest.raises(ParameterError, match="Unknown profile 'huge'. Choose one of tiny, workshop, full"):
        get_profile("huge")


def test_command_line_choices_come_from_the_profile_table():
    from recft_utils.cli import build_parser

    run = next(a for a in build_parser()._subparsers._group_actions[0].choices["run"]._actions if a.dest == "profile")
    assert run.choices == list(PROFILES)
