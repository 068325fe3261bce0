"""KIDSCREEN-10 against ../shared/instruments/kidscreen.md: raw sum, reversals, norm tables, properties."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formengine_plugins.kidscreen as kidscreen
from formengine.api import AnswerError, ScoringContext
from formengine.testing import answer_sets, check_plugin, result_problems
from formengine_plugins.kidscreen.scoring import ITEMS, scored_value

INSTRUMENTS = {i.id: i for i in check_plugin(kidscreen, min_vectors=15)}
# A made-up table (T = 2 x raw): never real norms, only to prove the lookup.
MADE_UP = {"source": "made-up",
           "lookups": {"t_value": {"from": "raw", "table": {str(r): 2 * r for r in range(10, 51)}}}}


def test_conformance_and_known_answers():
    assert set(INSTRUMENTS) == {"kidscreen10_child", "kidscreen10_parent"}
    assert INSTRUMENTS["kidscreen10_child"].definition.respondent == "self"
    assert INSTRUMENTS["kidscreen10_parent"].definition.respondent == "parent"
    for instrument in INSTRUMENTS.values():
        assert instrument.definition.age_range == (8, 18)
        assert instrument.definition.score_names == ["raw", "t_value"]


def test_items_3_and_4_are_reversed_and_the_rest_are_not():
    for item in ITEMS:
        for code in range(1, 6):
            expected = 6 - code if item in ("k10_3", "k10_4") else code
            assert scored_value(item, code) == expected
            assert scored_value(item, scored_value(item, code)) == code


def test_without_a_norm_table_there_is_no_t_value_and_no_formula():
    instrument = INSTRUMENTS["kidscreen10_child"]
    answers = {item: 3 for item in ITEMS}
    result = instrument.score_answers(answers, ScoringContext())
    assert result.valid and result.scores == {"raw": 30, "t_value": None}
    assert result.flag_codes() == ["no_norm_table"]
    with_table = instrument.score_answers(answers, ScoringContext(norms=MADE_UP))
    assert with_table.scores == {"raw": 30, "t_value": 60} and with_table.flag_codes() == []


@pytest.mark.parametrize("answers", [{"k10_1": 0}, {"k10_1": 6}, {"k10_1": "2"}, {"k10_0": 1}])
def test_bad_input_is_refused(answers):
    for instrument in INSTRUMENTS.values():
        with pytest.raises(AnswerError):
            instrument.score_answers(answers)


@pytest.mark.parametrize("instrument_id", sorted(INSTRUMENTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_properties(instrument_id, data):
    instrument = INSTRUMENTS[instrument_id]
    answers = data.draw(answer_sets(instrument))
    norms = data.draw(st.sampled_from([None, MADE_UP]))
    result = instrument.score_answers(answers, ScoringContext(norms=norms))
    assert result_problems(instrument, result) == []
    assert result.valid == (len(answers) == 10)
    if result.valid:
        assert result.scores["raw"] == sum(scored_value(k, v) for k, v in answers.items())
        assert result.scores["t_value"] == (2 * result.scores["raw"] if norms else None)
    shuffled = dict(data.draw(st.permutations(list(answers.items()))))
    assert instrument.score_answers(shuffled, ScoringContext(norms=norms)).to_dict() == result.to_dict()
