"""The programme's own forms against shared/instruments/programme.md, and its default plan."""

import json
from pathlib import Path

import pytest

import formengine_plugins.programme as programme
from formengine.api import AnswerError
from formengine.plan import Rule, rules_from_dicts
from formengine.testing import check_plugin

FIDELITY_ITEMS = {
    "detection": [f"fid_det_{n}" for n in range(1, 10)],
    "assessment": [f"fid_ass_{n}" for n in range(1, 10)],
    "action_plan": [f"fid_act_{n}" for n in range(1, 12)],
}


@pytest.fixture(scope="module")
def instruments():
    return {i.id: i for i in check_plugin(programme)}


def test_conformance_and_the_five_forms(instruments):
    assert set(instruments) == {"background_child", "background_parent", "progress_child",
                                "progress_parent", "fidelity"}
    assert instruments["fidelity"].definition.score_names == ["detection", "assessment", "action_plan"]
    assert instruments["fidelity"].definition.subject == "municipality"


def test_fidelity_has_nine_nine_and_eleven_questions(instruments):
    ids = instruments["fidelity"].definition.item_ids
    for name, items in FIDELITY_ITEMS.items():
        assert [i for i in ids if i in items] == items, name
    assert len(ids) == 29


def test_fidelity_index_is_the_mean_of_answered_questions_with_two_decimals(instruments):
    fidelity = instruments["fidelity"]
    answers = {"fid_det_1": 5, "fid_det_2": 4, "fid_det_3": 4, "fid_ass_1": 1}
    result = fidelity.score_answers(answers)
    assert result.scores == {"detection": 4.33, "assessment": 1.0, "action_plan": None}
    assert result.valid
    # Every question at the same value gives that value for the index.
    for value in range(1, 6):
        full = {item: value for items in FIDELITY_ITEMS.values() for item in items}
        assert fidelity.score_answers(full).scores == {name: value for name in FIDELITY_ITEMS}


@pytest.mark.parametrize("instrument_id, answers", [
    ("background_child", {"bc_sex": 4}),
    ("background_parent", {"bp_origin": 0}),
    ("progress_child", {"pc_arrest_type": "x" * 201}),
    ("progress_parent", {"pp_unknown": 1}),
    ("fidelity", {"fid_act_12": 1}),
])
def test_bad_answers_are_refused(instruments, instrument_id, answers):
    with pytest.raises(AnswerError):
        instruments[instrument_id].score_answers(answers)


def test_categories_follow_the_fact_sheet(instruments):
    background_child = instruments["background_child"].definition
    lives = background_child.scale_options(background_child.items_by_id["bc_lives_with"])
    assert len(lives) == 9
    background_parent = instruments["background_parent"].definition
    assert len(background_parent.scale_options(background_parent.items_by_id["bp_education"])) == 9
    assert len(background_parent.scale_options(background_parent.items_by_id["bp_civil_status"])) == 5
    progress = instruments["progress_child"].definition
    assert len(progress.scale_options(progress.items_by_id["pc_leisure_freq"])) == 5


def test_every_label_exists_in_danish_and_english():
    for path in Path(programme.__file__).parent.glob("*.json"):
        data = json.loads(path.read_text("utf-8"))
        for item in data["items"]:
            assert item["label"]["da"] and item["label"]["en"], (path.name, item["id"])


def test_the_default_plan_is_valid_and_mirrors_the_programme():
    rules, problems = rules_from_dicts(programme.formengine_default_plan())
    assert problems == []
    by_id = {r.instrument_id: r for r in rules}
    assert by_id["sdq_p4_17"] == Rule("sdq_p4_17", "parent", about="child", min_age=4, max_age=17)
    assert by_id["kidscreen10_child"].min_age == 8 and by_id["kidscreen10_child"].max_age == 18
    assert by_id["yls_cmi"].filled_by == "team_member"
    assert by_id["background_child"].waves == ("baseline",)
    assert by_id["fidelity"].about == "municipality"
    # who5 belongs to its own plugin's plan.
    assert "who5" not in by_id
