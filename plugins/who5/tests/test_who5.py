"""WHO-5 against ../shared/instruments/who5.md: every band edge, missing items, the conformance kit."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import formengine_plugins.who5 as who5
from formengine.api import AnswerError, ScoringContext
from formengine.testing import check_plugin

ITEMS = ["who5_1", "who5_2", "who5_3", "who5_4", "who5_5"]


@pytest.fixture(scope="module")
def instrument():
    return check_plugin(who5)[0]


def test_conformance_and_known_answers(instrument):
    assert instrument.id == "who5"
    assert instrument.definition.score_names == ["raw", "percent"]


def expected_band(percent: int) -> str:
    if percent <= 28:
        return "likely_depression"
    if percent <= 50:
        return "poor_wellbeing"
    return "good_wellbeing"


def test_every_raw_sum_gets_the_fact_sheet_band(instrument):
    seen = set()
    for codes in itertools.product(range(6), repeat=5):
        raw = sum(codes)
        if raw in seen:
            continue
        seen.add(raw)
        result = instrument.score_answers(dict(zip(ITEMS, codes, strict=True)))
        assert result.valid
        assert result.scores == {"raw": raw, "percent": raw * 4}
        assert result.bands == {"percent": expected_band(raw * 4)}
    assert seen == set(range(26))


@given(st.dictionaries(st.sampled_from(ITEMS), st.integers(0, 5)))
def test_any_missing_item_means_no_score(instrument, answers):
    result = instrument.score_answers(answers, ScoringContext())
    if len(answers) == 5:
        assert result.valid and result.scores["raw"] == sum(answers.values())
    else:
        assert not result.valid
        assert result.scores == {"raw": None, "percent": None}
        assert result.bands == {}
        assert result.flag_codes() == ["missing_items"]


@pytest.mark.parametrize("answers", [
    {"who5_1": 6}, {"who5_1": -1}, {"who5_1": "3"}, {"who5_1": True}, {"who5_6": 1}, {"who5_1": 2.5},
])
def test_bad_answers_are_refused(instrument, answers):
    with pytest.raises(AnswerError):
        instrument.score_answers(answers)
