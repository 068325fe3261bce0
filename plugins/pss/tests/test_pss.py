"""PSS against ../shared/instruments/pss.md: conformance, vectors, prorating, properties."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formengine_plugins.pss as pss
from formengine.api import AnswerError
from formengine.testing import answer_sets, check_plugin, result_problems
from formengine_plugins.pss.scoring import ITEMS, REVERSED, scored_value

INSTRUMENT = check_plugin(pss, min_vectors=15)[0]


def test_conformance_and_known_answers():
    assert INSTRUMENT.id == "pss"
    assert INSTRUMENT.definition.score_names == ["total"]
    assert INSTRUMENT.definition.item_ids == [f"pss_{n}" for n in range(1, 19)]
    assert REVERSED == {f"pss_{n}" for n in (1, 2, 5, 6, 7, 8, 17, 18)}


def test_missing_two_is_prorated_missing_three_is_not_scored():
    full = {item: 4 for item in ITEMS}
    for missing in itertools.combinations(ITEMS, 2):
        answers = {k: v for k, v in full.items() if k not in missing}
        result = INSTRUMENT.score_answers(answers)
        assert result.valid and result.flag_codes() == ["prorated"]
        values = [scored_value(k, v) for k, v in answers.items()]
        assert result.scores["total"] == (36 * sum(values) + 16) // 32  # floor(0.5 + mean x 18)
    three = {k: v for k, v in full.items() if k not in ITEMS[:3]}
    result = INSTRUMENT.score_answers(three)
    assert not result.valid and result.scores == {"total": None} and result.flag_codes() == ["missing_items"]


def test_reversals_are_involutions():
    for item in ITEMS:
        for code in range(1, 6):
            assert scored_value(item, scored_value(item, code)) == code


@pytest.mark.parametrize("answers", [{"pss_1": 0}, {"pss_1": 6}, {"pss_1": "3"}, {"pss_0": 1}])
def test_bad_input_is_refused(answers):
    with pytest.raises(AnswerError):
        INSTRUMENT.score_answers(answers)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_properties(data):
    answers = data.draw(answer_sets(INSTRUMENT))
    result = INSTRUMENT.score_answers(answers)
    assert result_problems(INSTRUMENT, result) == []
    assert result.valid == (len(answers) >= 16)
    shuffled = dict(data.draw(st.permutations(list(answers.items()))))
    assert INSTRUMENT.score_answers(shuffled).to_dict() == result.to_dict()
    unanswered = [i for i in ITEMS if i not in answers]
    if result.valid and unanswered:
        extra = {data.draw(st.sampled_from(unanswered)): data.draw(st.integers(1, 5))}
        assert INSTRUMENT.score_answers({**answers, **extra}).valid
    if len(answers) == 18:
        assert result.scores["total"] == sum(scored_value(k, v) for k, v in answers.items())
