"""YLS/CMI against ../shared/instruments/yls_cmi.md: completeness, bands, override, norm packs, properties."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formengine_plugins.yls_cmi as yls_cmi
from formengine.api import AnswerError, ScoringContext
from formengine.testing import answer_sets, check_plugin, result_problems
from formengine_plugins.yls_cmi.scoring import DOMAINS, ITEMS, STRENGTHS

INSTRUMENT = check_plugin(yls_cmi, min_vectors=15)[0]


def complete(total: int) -> dict:
    answers = {item: 0 for item in ITEMS}
    for item in ITEMS[:total]:
        answers[item] = 1
    return answers


def test_conformance_and_structure():
    assert INSTRUMENT.id == "yls_cmi"
    assert len(ITEMS) == 42 and [len(v) for v in DOMAINS.values()] == [5, 6, 7, 4, 5, 3, 7, 5]
    assert INSTRUMENT.definition.score_names == [*DOMAINS, "total", "strengths"]
    assert INSTRUMENT.definition.respondent == "professional"
    assert INSTRUMENT.definition.age_range == (12, 17)
    assert "MHS" in INSTRUMENT.definition.licence["holder"]


@pytest.mark.parametrize(("total", "band"), [
    (0, "low"), (8, "low"), (9, "moderate"), (22, "moderate"),
    (23, "high"), (34, "high"), (35, "very_high"), (42, "very_high"),
])
def test_total_bands(total, band):
    result = INSTRUMENT.score_answers(complete(total))
    assert result.scores["total"] == total
    assert result.bands == {"total": band, "final_level": band}


def test_override_needs_a_reason_and_sets_the_final_level():
    answers = complete(10)
    with pytest.raises(AnswerError, match="override_reason"):
        INSTRUMENT.score_answers({**answers, "override_level": "high"})
    result = INSTRUMENT.score_answers({**answers, "override_level": "high", "override_reason": "Ny viden"})
    assert result.bands["final_level"] == "high" and result.bands["total"] == "moderate"
    assert "override" in result.flag_codes()


def test_a_missing_item_leaves_every_score_empty():
    answers = complete(30)
    del answers["yls_4_2"]
    result = INSTRUMENT.score_answers(answers)
    assert not result.valid and set(result.scores.values()) == {None} and result.bands == {}


def test_domain_bands_only_from_a_norm_pack():
    answers = complete(5)  # offences 5, the rest 0
    assert "offences" not in INSTRUMENT.score_answers(answers).bands
    made_up = {"source": "made-up", "bands": {"offences": [{"band": "low", "min": 0, "max": 2},
                                                          {"band": "high", "min": 3, "max": 5}]}}
    result = INSTRUMENT.score_answers(answers, ScoringContext(norms=made_up))
    assert result.bands["offences"] == "high" and "family" not in result.bands
    assert "no_norm_table" in result.flag_codes()  # the other domains still lack cut-offs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_properties(data):
    answers = data.draw(answer_sets(INSTRUMENT))
    result = INSTRUMENT.score_answers(answers)
    assert result_problems(INSTRUMENT, result) == []
    assert result.valid == all(item in answers for item in ITEMS)
    if result.valid:
        assert result.scores["total"] == sum(answers[i] for i in ITEMS)
        assert result.scores["strengths"] == sum(1 for s in STRENGTHS if answers.get(s) is True)
        assert result.bands["final_level"] == answers.get("override_level", result.bands["total"])
    shuffled = dict(data.draw(st.permutations(list(answers.items()))))
    assert INSTRUMENT.score_answers(shuffled).to_dict() == result.to_dict()
    unanswered = [i for i in ITEMS if i not in answers]
    if result.valid is False and len(unanswered) == 1:
        assert INSTRUMENT.score_answers({**answers, unanswered[0]: 0}).valid
