"""LØFT worksheet against ../shared/instruments/worksheets.md: dated 0-10 scalings per goal over time."""

import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

import formengine_plugins.loft as loft
from formengine.api import AnswerError
from formengine.testing import check_plugin
from formengine_plugins.loft.views import chart_data, goal_series


@pytest.fixture(scope="module")
def instrument():
    return check_plugin(loft, min_vectors=15)[0]


def worksheet(goals, submitted=None, **notes):
    return SimpleNamespace(answers={"goals": goals, **notes},
                           submitted_at=submitted and datetime(*submitted, tzinfo=UTC))


def goal(number, scaling, day=None, wording="Et mål"):
    entry = {"goal_no": number, "goal": wording, "scaling": scaling}
    if day:
        entry["scaled_on"] = day
    return entry


def test_conformance_and_known_answers(instrument):
    assert instrument.id == "loft_worksheet"
    assert instrument.definition.score_names == ["mean_scaling", "goals_scaled"]


def test_the_worksheet_has_every_element_of_the_fact_sheet(instrument):
    definition = instrument.definition
    goals = definition.items_by_id["goals"]
    assert goals["type"] == "group" and (goals["min_repeat"], goals["max_repeat"]) == (1, 5)
    sub = {item["id"]: item for item in goals["items"]}
    assert sub["goal"]["type"] == "text"
    assert [o["code"] for o in definition.scale_options(sub["scaling"])] == list(range(11))
    assert sub["scaled_on"]["type"] == "date"
    assert sub["goal_no"]["type"] == "number" and sub["goal_no"]["integer"]
    for item_id in ("exceptions", "already_works", "resources_own", "resources_family", "resources_network",
                    "next_step", "step_sign"):
        assert definition.items_by_id[item_id]["type"] == "text"
    assert definition.items_by_id["follow_up"]["type"] == "date"


@pytest.mark.parametrize("scaled_on",
                         ["2026-13-01", "2026-02-29", "01.03.2026", "2026-1-5", "20260301", 20260301])
def test_a_bad_date_inside_a_goal_is_refused(instrument, scaled_on):
    with pytest.raises(AnswerError, match="goals.0.scaled_on"):
        instrument.score_answers({"goals": [goal(1, 4, scaled_on)]})


def test_goals_are_followed_by_number_across_worksheets_in_date_order():
    history = [
        worksheet([goal(1, 2, "2026-01-10", "Komme i skole"), goal(2, 5, "2026-01-10", "Færre skænderier")]),
        # goal 2 scaled without a date: the worksheet's submission date is used
        worksheet([goal(2, 4), goal(1, 4, "2026-03-01", "Komme i skole hver dag")], submitted=(2026, 3, 2)),
    ]
    current = worksheet([goal(1, 7, "2026-06-01"), goal(3, 3, "2026-06-01", "Sove i egen seng")])
    series = goal_series([*history, current])
    assert [s["number"] for s in series] == [1, 2, 3]
    assert series[0]["points"] == [(date(2026, 1, 10), 2), (date(2026, 3, 1), 4), (date(2026, 6, 1), 7)]
    assert series[1]["points"] == [(date(2026, 1, 10), 5), (date(2026, 3, 2), 4)]
    # the legend shows the goal's latest wording
    assert series[0]["wording"] == "Et mål" and series[2]["wording"] == "Sove i egen seng"


def test_a_rescaling_on_the_same_day_replaces_the_earlier_one():
    series = goal_series([worksheet([goal(1, 3, "2026-02-01")]), worksheet([goal(1, 5, "2026-02-01")])])
    assert series[0]["points"] == [(date(2026, 2, 1), 5)]


def test_the_chart_places_0_at_the_bottom_10_at_the_top_and_time_left_to_right():
    series = goal_series([worksheet([goal(1, 0, "2026-01-01")]), worksheet([goal(1, 10, "2026-12-31")])])
    chart = chart_data(series, "en")
    (first, last) = chart["lines"][0]["points"]
    assert first["x"] < last["x"] and first["y"] > last["y"]
    assert [t["label"] for t in chart["ticks"]] == ["2026-01-01", "2026-12-31"]


def test_the_result_view_draws_a_line_per_goal_over_the_persons_worksheets(instrument):
    history = [worksheet([goal(1, 2, "2026-01-10"), goal(2, 5, "2026-01-10")]),
               worksheet([goal(1, 4, "2026-03-01"), goal(2, 4, "2026-03-01")])]
    current = worksheet([goal(1, 7, "2026-06-01", "Komme i skole <i>hver</i> dag"), goal(2, 6, "2026-06-01")],
                        next_step="Vækkeur & madpakke", follow_up="2026-07-01")
    html = str(loft.formengine_result_view(current, instrument, history, "da"))
    lines = dict(re.findall(r'<g class="loft-goal" data-goal="(\d+)" data-values="([\d,]*)"', html))
    assert lines == {"1": "2,4,7", "2": "5,4,6"}
    assert html.count("<polyline") == 2
    assert "Bygger på 3 arbejdsark." in html
    assert "10.01.2026" in html and "01.06.2026" in html
    # the family's own words are shown as text
    assert "<i>hver</i>" not in html and "Komme i skole &lt;i&gt;hver&lt;/i&gt; dag" in html
    assert "Vækkeur &amp; madpakke" in html and "01.07.2026" in html


def test_the_result_view_shows_the_scorings_remarks(instrument):
    answers = {"goals": [goal(2, 6, "2026-01-10"), goal(2, 8, "2026-01-10")]}
    flags = instrument.score_answers(answers).to_dict()["flags"]
    stored = SimpleNamespace(answers=answers, submitted_at=None, current_score=SimpleNamespace(flags=flags))
    html = str(loft.formengine_result_view(stored, instrument, [], "en"))
    assert "Two goals share a goal number (2)" in html


def test_a_first_worksheet_shows_points_without_lines(instrument):
    html = str(loft.formengine_result_view(worksheet([goal(1, 3, "2026-01-10")]), instrument, [], "en"))
    assert "<polyline" not in html and 'data-goal="1" data-values="3"' in html
    assert "Based on 1 worksheet(s)." in html


def test_nothing_scaled_says_so(instrument):
    html = str(loft.formengine_result_view(worksheet([{"goal_no": 1, "goal": "x"}]), instrument, [], "en"))
    assert "<svg" not in html and "No goal has been scaled yet." in html


def test_the_result_view_leaves_other_instruments_alone():
    assert loft.formengine_result_view(worksheet([]), SimpleNamespace(id="ics_worksheet"), [], "da") is None
