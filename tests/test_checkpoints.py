"""Checkpoints: `recft checkpoint --step N` makes what the notebook after N reads; notebooks name it when it
is missing."""

import pandas as pd
import pytest

from recft_utils import cli
from recft_utils.errors import MissingArtefactError
from recft_utils.notebook_execution import execute
from recft_utils.run import STEPS, Run, notebook_id
from recft_utils.runner import discover_notebooks
from recft_utils.workshop.agenda import checkpoint_before
from recft_utils.workshop.checkpoints import next_notebook, steps_to_run


def complete(run_dir, step, profile="tiny", dataset="online-retail"):
    Run(run_dir).path(step).mkdir(parents=True, exist_ok=True)
    Run(run_dir).finish(step, {"profile": profile, "dataset": dataset})


def test_only_the_missing_steps_and_those_after_them_are_run(tmp_path):
    assert steps_to_run(tmp_path, 3, "tiny", "online-retail") == ["01", "02", "03a", "03b"]
    complete(tmp_path, "01_requirements")
    complete(tmp_path, "03a_two_tower")
    complete(tmp_path, "03b_fine_tuning")
    # 03a and 03b are there, but they were made from a 02 that is not: redo all three
    assert steps_to_run(tmp_path, 3, "tiny", "online-retail") == ["02", "03a", "03b"]
    complete(tmp_path, "02_data_preparation")
    assert steps_to_run(tmp_path, 3, "tiny", "online-retail") == []
    assert steps_to_run(tmp_path, "3a", "workshop", "online-retail") == ["01", "02", "03a"]


@pytest.mark.parametrize(
    ("step", "opens"), [(1, "02"), ("2", "03a"), ("3a", "03b"), ("3", "04"), ("3b", "04"), ("5", "06")]
)
def test_each_checkpoint_opens_the_notebook_after_it(step, opens):
    assert next_notebook(step) == opens


@pytest.mark.parametrize("step", ["0", "6", "3c", "two"])
def test_a_step_out_of_range_is_refused(capsys, step):
    assert cli.main(["checkpoint", "--step", step]) == 2
    assert "--step must be one of 1, 2, 3a, 3, 4, 5" in capsys.readouterr().err


def test_the_message_names_the_checkpoint_of_the_notebook_before(tmp_path):
    complete(tmp_path, "01_requirements")
    with pytest.raises(MissingArtefactError, match=r"recft checkpoint --step 3 .*make checkpoint STEP=3") as error:
        Run(tmp_path).require_before("04_serving", "tiny")
    assert "02_data_preparation, 03a_two_tower, 03b_fine_tuning are missing" in str(error.value)
    with pytest.raises(MissingArtefactError, match=r"recft checkpoint --step 3a .*notebooks 01 to 03a"):
        Run(tmp_path).require_before("03b_fine_tuning", "tiny")


def test_a_checkpoint_of_another_profile_is_named(tmp_path):
    for step in STEPS[:4]:
        complete(tmp_path, step, profile="tiny")
    Run(tmp_path).require_before("04_serving", "tiny")
    with pytest.raises(MissingArtefactError, match="made with profile 'tiny'.*profile = 'tiny'"):
        Run(tmp_path).require_before("04_serving", "workshop")


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", [p.name for p in discover_notebooks()][1:])
def test_every_notebook_stops_at_once_naming_the_checkpoint(mirror_root, tmp_path, notebook):
    number = notebook_id(notebook.removesuffix(".ipynb"))
    params = {"profile": "tiny", "run_dir": str(tmp_path / "empty")}
    with pytest.raises(Exception, match=f"recft checkpoint --step {checkpoint_before(number)} --run-dir"):
        execute(discover_notebooks(select=[number])[0], tmp_path / notebook, params, progress=False)


@pytest.mark.notebooks
def test_checkpoint_1_lets_notebook_02_start(mirror_root, tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["checkpoint", "--step", "1", "--profile", "tiny", "--run-dir", str(run_dir)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "executed notebooks 01" in out and "Open notebook 02 and set profile = 'tiny'" in out
    Run(run_dir).require_before("02_data_preparation", "tiny")
    assert (run_dir / "01_requirements.ipynb").exists()  # the executed notebook, for a look
    assert cli.main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_an_agenda_adds_measured_run_time_explaining_and_exercises():
    from recft_utils.workshop.agenda import MINUTES_PER_EXERCISE, build_agenda

    plan = [("Welcome", None, 0, 15), ("01", "01", 3, 0), ("04", "04", 1, 0)]
    explain = {"01": 25, "04": 20}
    agenda = build_agenda(plan, {"01": 61, "04": 30}, {"01": 2, "04": 3}, explain, start="13:30")
    starts = pd.to_datetime(agenda["start"], format="%H:%M")
    assert agenda["start"].iloc[0] == "13:30"
    assert ((starts.diff().dt.total_seconds() / 60).iloc[1:].to_numpy() == agenda["minutes"].iloc[:-1].to_numpy()).all()
    row = agenda.iloc[1]
    assert row["notebook run"] == 2 and row["exercises"] == 2  # 61 s rounds up; only 2 exercises exist
    assert agenda.iloc[2]["a late-comer joins with"] == "`recft checkpoint --step 3`"
    assert agenda["minutes"].sum() == 15 + 2 + explain["01"] + 20 + 1 + explain["04"] + MINUTES_PER_EXERCISE


def test_every_notebook_states_the_reading_time_the_agendas_give_it():
    from recft_utils.runner import discover_notebooks
    from recft_utils.workshop.agenda import reading_minutes

    for notebook in discover_notebooks():  # the agendas read them (scripts/readme_tables.py): every one states it
        assert 10 <= reading_minutes(notebook) <= 60, notebook.name


def test_notebooks_are_selected_by_number_and_03_is_both_parts_of_step_3():
    def names(select):
        return [p.stem for p in discover_notebooks(select=select)]

    assert names(["3"]) == ["03a_two_tower", "03b_fine_tuning"]
    assert names(["03b", "1"]) == ["01_requirements", "03b_fine_tuning"]
    assert names(["3A"]) == ["03a_two_tower"]
