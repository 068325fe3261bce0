"""The plan rules on their own (no Flask, no database): dates, ages, windows, waves, who answers what."""

from datetime import date

import pytest

from formengine.plan import (
    PersonInfo,
    PlanError,
    PlanItem,
    Rule,
    Schedule,
    add_months,
    age_on,
    family_waves,
    items_for_family,
    items_for_municipality,
    rules_from_dicts,
)

# The programme's plan, as plugins/programme ships it (copied here so this test stands alone).
PROGRAMME = [
    Rule("kidscreen10_child", "child", min_age=8, max_age=18),
    Rule("sdq_s11_17", "child", min_age=11, max_age=17),
    Rule("pss", "parent"),
    Rule("sdq_p4_17", "parent", about="child", min_age=4, max_age=17),
    Rule("who5", "youth", min_age=18),
    Rule("yls_cmi", "youth", min_age=12, max_age=17, filled_by="team_member"),
    Rule("progress_child", "child"),
    Rule("progress_parent", "parent"),
    Rule("background_child", "child", waves=("baseline",), filled_by="team_member"),
    Rule("background_parent", "parent", waves=("baseline",), filled_by="team_member"),
    Rule("fidelity", "municipality", about="municipality", waves=("baseline", "progress")),
]


def ids(items):
    return sorted((i.instrument_id, i.person_id, i.about_id) for i in items)


@pytest.mark.parametrize("start, months, expected", [
    (date(2024, 1, 15), 6, date(2024, 7, 15)),
    (date(2024, 8, 31), 6, date(2025, 2, 28)),
    (date(2023, 8, 31), 6, date(2024, 2, 29)),
    (date(2024, 10, 31), 6, date(2025, 4, 30)),
    (date(2024, 12, 1), 1, date(2025, 1, 1)),
    (date(2024, 7, 1), 18, date(2026, 1, 1)),
])
def test_add_months_clamps_to_the_end_of_the_month(start, months, expected):
    assert add_months(start, months) == expected


@pytest.mark.parametrize("born, on, age", [
    (date(2010, 5, 10), date(2024, 5, 9), 13),
    (date(2010, 5, 10), date(2024, 5, 10), 14),
    (date(2008, 2, 29), date(2026, 2, 28), 17),
    (date(2008, 2, 29), date(2026, 3, 1), 18),
    (date(2008, 2, 29), date(2028, 2, 29), 20),
    (date(2024, 1, 1), date(2024, 1, 1), 0),
])
def test_age_is_whole_years_at_the_measurement_date(born, on, age):
    assert age_on(born, on) == age


def test_age_before_birth_is_refused_and_unknown_birth_date_is_none():
    with pytest.raises(PlanError):
        age_on(date(2020, 1, 2), date(2020, 1, 1))
    assert age_on(None, date(2020, 1, 1)) is None


def test_the_tolerance_window_is_inclusive_on_both_edges():
    schedule = Schedule()  # ±4 weeks
    due = date(2025, 6, 1)
    assert schedule.window(due) == (date(2025, 5, 4), date(2025, 6, 29))
    assert schedule.status(due, date(2025, 5, 3)) == "upcoming"
    assert schedule.status(due, date(2025, 5, 4)) == "due"
    assert schedule.status(due, date(2025, 6, 29)) == "due"
    assert schedule.status(due, date(2025, 6, 30)) == "overdue"
    assert schedule.status(due, date(2025, 6, 30), done=True) == "done"


def test_the_tolerance_window_is_configurable_and_checked():
    schedule = Schedule.from_settings({"tolerance_weeks": 2})
    assert schedule.window(date(2025, 6, 1)) == (date(2025, 5, 18), date(2025, 6, 15))
    assert Schedule.from_settings(None) == Schedule(6, 4)
    for bad in ({"tolerance_weeks": -1}, {"tolerance_weeks": 13}, {"interval_months": 0},
                {"interval_months": 2, "tolerance_weeks": 5}):
        with pytest.raises(PlanError):
            Schedule.from_settings(bad)


def test_ages_are_taken_today_once_the_window_opened_else_on_the_due_date():
    schedule = Schedule()
    due = date(2025, 6, 1)
    assert schedule.measurement_date(due, date(2025, 1, 1)) == due
    assert schedule.measurement_date(due, date(2025, 5, 20)) == date(2025, 5, 20)
    assert schedule.measurement_date(due, date(2025, 9, 1)) == date(2025, 9, 1)


def test_an_open_family_has_baseline_every_past_wave_and_the_next_one():
    waves = family_waves(date(2024, 1, 10), date(2025, 3, 1), Schedule())
    assert [(w.number, w.kind, w.due_on) for w in waves] == [
        (1, "baseline", date(2024, 1, 10)),
        (2, "progress", date(2024, 7, 10)),
        (3, "progress", date(2025, 1, 10)),
        (4, "progress", date(2025, 7, 10)),
    ]


def test_a_new_family_has_baseline_and_the_first_progress_wave_coming_up():
    waves = family_waves(date(2025, 3, 1), date(2025, 3, 1), Schedule())
    assert [(w.kind, w.due_on) for w in waves] == [("baseline", date(2025, 3, 1)),
                                                    ("progress", date(2025, 9, 1))]


def test_closing_stops_progress_waves_and_adds_the_closing_wave():
    waves = family_waves(date(2024, 1, 10), date(2026, 1, 1), Schedule(), closed_on=date(2024, 11, 5))
    assert [(w.number, w.kind, w.due_on) for w in waves] == [
        (1, "baseline", date(2024, 1, 10)),
        (2, "progress", date(2024, 7, 10)),
        (3, "closing", date(2024, 11, 5)),
    ]
    # Closed on the day a progress wave would fall: the closing wave replaces it.
    waves = family_waves(date(2024, 1, 10), date(2026, 1, 1), Schedule(), closed_on=date(2024, 7, 10))
    assert [w.kind for w in waves] == ["baseline", "closing"]


def test_programme_plan_by_role_and_age_at_the_measurement_date():
    on = date(2025, 6, 1)
    persons = [
        PersonInfo(1, "parent", date(1985, 1, 1)),
        PersonInfo(2, "child", date(2015, 6, 2)),   # 9 (turns 10 the day after)
        PersonInfo(3, "child", date(2013, 6, 1)),   # 12 on the day
        PersonInfo(4, "youth", date(2007, 5, 31)),  # 18
        PersonInfo(5, "child", date(2022, 1, 1)),   # 3
    ]
    items = items_for_family(PROGRAMME, persons, "progress", on)
    assert ids(items) == sorted([
        ("pss", 1, 1), ("progress_parent", 1, 1),
        ("sdq_p4_17", 1, 2), ("sdq_p4_17", 1, 3),
        ("kidscreen10_child", 2, 2), ("progress_child", 2, 2),
        ("kidscreen10_child", 3, 3), ("sdq_s11_17", 3, 3), ("yls_cmi", 3, 3), ("progress_child", 3, 3),
        ("kidscreen10_child", 4, 4), ("who5", 4, 4), ("progress_child", 4, 4),
        ("progress_child", 5, 5),
    ])
    yls = next(i for i in items if i.instrument_id == "yls_cmi")
    assert yls == PlanItem("yls_cmi", 3, 3, "team_member")


def test_a_birthday_moves_a_child_into_a_rule_on_that_very_day():
    child = PersonInfo(2, "child", date(2014, 6, 1))
    before = items_for_family(PROGRAMME, [child], "progress", date(2025, 5, 31))
    on_day = items_for_family(PROGRAMME, [child], "progress", date(2025, 6, 1))
    assert "sdq_s11_17" not in {i.instrument_id for i in before}
    assert "sdq_s11_17" in {i.instrument_id for i in on_day}


def test_background_forms_only_at_baseline():
    persons = [PersonInfo(1, "parent", date(1980, 1, 1)), PersonInfo(2, "child", date(2012, 1, 1))]
    baseline = {i.instrument_id for i in items_for_family(PROGRAMME, persons, "baseline", date(2025, 1, 1))}
    closing = {i.instrument_id for i in items_for_family(PROGRAMME, persons, "closing", date(2025, 1, 1))}
    assert {"background_child", "background_parent"} <= baseline
    assert not {"background_child", "background_parent"} & closing
    assert {"progress_child", "progress_parent"} <= closing


def test_only_available_instruments_appear():
    persons = [PersonInfo(1, "parent", date(1980, 1, 1)), PersonInfo(2, "child", date(2012, 1, 1))]
    items = items_for_family(PROGRAMME, persons, "progress", date(2025, 1, 1),
                             available={"pss", "progress_child"})
    assert ids(items) == [("progress_child", 2, 2), ("pss", 1, 1)]


def test_a_person_closed_before_the_measurement_gets_nothing():
    persons = [PersonInfo(1, "parent", date(1980, 1, 1), closed_on=date(2024, 12, 31)),
               PersonInfo(2, "child", date(2012, 1, 1), closed_on=date(2025, 1, 1))]
    items = items_for_family(PROGRAMME, persons, "closing", date(2025, 1, 1))
    assert {i.person_id for i in items} == {2}


def test_unknown_birth_date_only_gets_rules_without_age_limits():
    items = items_for_family(PROGRAMME, [PersonInfo(2, "child", None)], "progress", date(2025, 1, 1))
    assert ids(items) == [("progress_child", 2, 2)]


def test_municipality_rules_are_separate_from_family_rules():
    assert items_for_municipality(PROGRAMME, "progress") == [PlanItem("fidelity", None, None)]
    assert items_for_municipality(PROGRAMME, "closing") == []
    persons = [PersonInfo(1, "parent", date(1980, 1, 1))]
    assert "fidelity" not in {i.instrument_id for i in items_for_family(PROGRAMME, persons, "progress",
                                                                         date(2025, 1, 1))}


@pytest.mark.parametrize("row, message", [
    ({"instrument_id": "x", "respondent_role": "teacher"}, "respondent role"),
    ({"instrument_id": "x", "respondent_role": "child", "about": "child"}, "about a child"),
    ({"instrument_id": "x", "respondent_role": "child", "min_age": 12, "max_age": 8}, "above"),
    ({"instrument_id": "x", "respondent_role": "child", "min_age": -1}, "min_age"),
    ({"instrument_id": "x", "respondent_role": "child", "waves": ["monthly"]}, "waves"),
    ({"instrument_id": "x", "respondent_role": "child", "waves": "baseline"}, "list"),
    ({"instrument_id": "x", "respondent_role": "municipality"}, "municipality"),
    ({"instrument_id": "x", "respondent_role": "child", "colour": "red"}, "unknown rule field"),
    ({"respondent_role": "child"}, "instrument id"),
])
def test_bad_rules_are_described_and_skipped(row, message):
    rules, problems = rules_from_dicts([row, {"instrument_id": "ok", "respondent_role": "parent"}])
    assert [r.instrument_id for r in rules] == ["ok"]
    assert len(problems) == 1 and message in problems[0]


def test_rule_round_trips_through_a_dict():
    rule = Rule("sdq_p4_17", "parent", about="child", min_age=4, max_age=17, waves=("baseline", "closing"))
    assert Rule.from_dict(rule.to_dict()) == rule
