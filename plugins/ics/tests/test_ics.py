"""ICS worksheet against ../shared/instruments/worksheets.md: ten dimensions on three sides, triangle view."""

import json
import re
from types import SimpleNamespace

import pytest

import formengine_plugins.ics as ics
from formengine.api import AnswerError, load_definition
from formengine.testing import check_plugin
from formengine_plugins.ics.summary import DIMENSIONS, SIDES


@pytest.fixture(scope="module")
def instrument():
    return check_plugin(ics, min_vectors=15)[0]


def test_conformance_and_known_answers(instrument):
    assert instrument.id == "ics_worksheet"
    assert instrument.definition.respondent == "professional"
    assert not instrument.definition.licence["official_wording_licensed"]


def test_the_ten_dimensions_each_have_resources_concerns_and_a_rating(instrument):
    definition = instrument.definition
    assert len(DIMENSIONS) == 10
    assert [len(dims) for _, dims in SIDES] == [4, 3, 3]
    for dimension in DIMENSIONS:
        resources = definition.items_by_id[f"{dimension}_resources"]
        concerns = definition.items_by_id[f"{dimension}_concerns"]
        rating = definition.items_by_id[f"{dimension}_rating"]
        assert resources["type"] == concerns["type"] == "text"
        assert [o["code"] for o in definition.scale_options(rating)] == [
            "resource", "neutral", "concern", "not_assessed"]
    # one page per dimension, in the triangle's order
    assert [page["id"] for page in definition.pages] == list(DIMENSIONS)


def test_every_label_exists_in_danish_and_english(instrument):
    data = json.loads(json.dumps(instrument.definition.data))
    for item in data["items"]:
        assert item["label"]["da"] and item["label"]["en"] and item["label"]["da"] != item["label"]["en"]


def test_a_concern_text_over_the_limit_is_refused_and_nothing_is_scored(instrument):
    with pytest.raises(AnswerError, match="health_concerns: text longer than 2000"):
        instrument.score_answers({"health_concerns": "x" * 2001, "health_rating": "concern"})


def response(answers):
    return SimpleNamespace(answers=answers, submitted_at=None)


MIXED = {
    "health_rating": "concern", "health_concerns": "Ofte syg <b>fravær</b>",
    "school_rating": "resource", "school_resources": "Glad for sin lærer & klassen",
    "safe_care_rating": "neutral", "housing_rating": "not_assessed",
}


def test_the_result_view_draws_the_triangle_with_each_rating_on_its_side(instrument):
    html = str(ics.formengine_result_view(response(MIXED), instrument, [], "da"))
    assert html.count("<svg") == 1 and "<polygon" in html
    # one marker per dimension, carrying its rating
    markers = dict(re.findall(r'<g class="ics-marker[^"]*" data-dimension="(\w+)" data-rating="(\w+)"', html))
    assert set(markers) == set(DIMENSIONS)
    assert markers["health"] == "concern" and markers["school"] == "resource"
    assert markers["safe_care"] == "neutral" and markers["housing"] == "not_assessed"
    assert markers["network"] == "unrated"
    # per side summary in the drawing: the child's development has one resource and one concern
    assert "Barnets udvikling" in html and "Ressourcer 1 · Bekymringer 1" in html
    assert "Forældrekompetencer" in html and "Familie og netværk" in html


def test_the_result_view_shows_typed_notes_as_text_never_as_html(instrument):
    html = str(ics.formengine_result_view(response(MIXED), instrument, [], "en"))
    assert "<b>fravær</b>" not in html
    assert "Ofte syg &lt;b&gt;fravær&lt;/b&gt;" in html
    assert "Glad for sin lærer &amp; klassen" in html
    assert "The child&#39;s development" in html or "The child's development" in html


def test_the_result_view_shows_the_scorings_remarks(instrument):
    result = instrument.score_answers(MIXED)
    stored = SimpleNamespace(answers=MIXED, current_score=SimpleNamespace(flags=result.to_dict()["flags"]))
    html = str(ics.formengine_result_view(stored, instrument, [], "en"))
    assert "<h3>Remarks</h3>" in html and "6 of 10 dimensions have no rating" in html


def test_the_result_view_leaves_other_instruments_alone(instrument):
    who5 = SimpleNamespace(id="who5")
    assert ics.formengine_result_view(response({}), who5, [], "da") is None


def test_the_rating_widget_posts_the_same_values_as_the_standard_control(instrument):
    definition = instrument.definition
    item = definition.items_by_id["health_rating"]
    html = str(ics.formengine_render_widget(item, definition, "concern", "en", None))
    assert "<legend" not in html  # the stepper's fieldset supplies the question's legend
    values = re.findall(r'<input type="radio" name="health_rating" value="([^"]+)"( checked)?>', html)
    assert [v for v, _ in values] == ["&#34;resource&#34;", "&#34;neutral&#34;", "&#34;concern&#34;",
                                      "&#34;not_assessed&#34;"]
    assert [v for v, checked in values if checked] == ["&#34;concern&#34;"]


def test_the_rating_widget_uses_the_active_wording_source(instrument):
    definition = instrument.definition

    class Shouting:
        def item(self, item, lang):
            return item["id"].upper()

        def option(self, item, option, lang):
            return str(option["code"]).upper()

    html = str(ics.formengine_render_widget(definition.items_by_id["housing_rating"], definition, None,
                                            "da", Shouting()))
    assert "NOT_ASSESSED" in html and "RESOURCE" in html and " checked" not in html


def test_the_widget_is_only_for_its_own_items(instrument):
    definition = instrument.definition
    notes = definition.items_by_id["health_concerns"]
    assert ics.formengine_render_widget(notes, definition, None, "da", None) is None
    other = load_definition(json.loads(json.dumps(definition.data)) | {"id": "someone_else"})
    assert ics.formengine_render_widget(other.items_by_id["health_rating"], other, None, "da", None) is None
