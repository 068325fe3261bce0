"""SDQ against ../shared/instruments/sdq.md: conformance, vectors, prorating and impact rules, properties."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import formengine_plugins.sdq as sdq
from formengine.api import AnswerError
from formengine.testing import answer_sets, check_plugin, result_problems
from formengine_plugins.sdq.scoring import IMPACT_ITEMS, REVERSED, SCALES, scored_value

INSTRUMENTS = {i.id: i for i in check_plugin(sdq, min_vectors=15)}


def test_conformance_and_known_answers():
    assert set(INSTRUMENTS) == {"sdq_p4_17", "sdq_s11_17", "sdq_t4_17"}
    for instrument in INSTRUMENTS.values():
        assert instrument.definition.score_names == [
            "emotional", "conduct", "hyperactivity", "peer", "prosocial",
            "total_difficulties", "externalising", "internalising", "impact"]


def test_the_whole_questionnaire_is_one_definition_with_conditional_impact_items():
    for instrument_id, instrument in INSTRUMENTS.items():
        definition = instrument.definition
        for items in SCALES.values():
            assert set(items) <= set(definition.item_ids)
        for item_id in (*IMPACT_ITEMS[instrument_id], "ebdchron", "ebdburd"):
            item = definition.items_by_id[item_id]
            assert item["show_if"] == {"item": "ebddiff", "op": "gt", "value": 0}
            assert not definition.is_shown(item, {"ebddiff": 0})
            assert definition.is_shown(item, {"ebddiff": 1})
        assert definition.licence["official_wording_licensed"] is True
        assert "Youthinmind" in definition.licence["holder"]


def test_teacher_version_has_three_impact_items():
    teacher = INSTRUMENTS["sdq_t4_17"].definition
    assert [i for i in ("distres", "imphome", "impfrie", "impclas", "impleis", "imppeer")
            if i in teacher.item_ids] == ["distres", "impclas", "imppeer"]
    with pytest.raises(AnswerError):
        INSTRUMENTS["sdq_t4_17"].score_answers({"ebddiff": 1, "impleis": 2})


def expected_scale(codes: dict[str, int], items) -> int | None:
    """The fact sheet's rule, spelled out with integer arithmetic: floor(0.5 + mean x 5)."""
    values = [(2 - codes[i]) if i in REVERSED else codes[i] for i in items if i in codes]
    if len(values) < 3:
        return None
    # floor(0.5 + 5*s/n) == (10*s + n) // (2*n) for whole s and n.
    return (10 * sum(values) + len(values)) // (2 * len(values))


def test_every_subset_and_code_of_one_scale_follows_the_rule():
    instrument = INSTRUMENTS["sdq_p4_17"]
    items = SCALES["hyperactivity"]  # has two reversed items
    for size in range(6):
        for chosen in itertools.combinations(items, size):
            for codes in itertools.product(range(3), repeat=size):
                answers = dict(zip(chosen, codes, strict=True))
                result = instrument.score_answers(answers)
                assert result.scores["hyperactivity"] == expected_scale(answers, items), answers


def test_half_up_not_to_even():
    instrument = INSTRUMENTS["sdq_s11_17"]
    # 2/4 * 5 = 2.5 and 6/4 * 5 = 7.5: banker's rounding would give 2 and 8, half up gives 3 and 8.
    low = instrument.score_answers({"somatic": 1, "worries": 1, "unhappy": 0, "clingy": 0})
    high = instrument.score_answers({"somatic": 2, "worries": 2, "unhappy": 1, "clingy": 1})
    assert (low.scores["emotional"], high.scores["emotional"]) == (3, 8)
    assert "prorated" in low.flag_codes()


def test_reversals_are_involutions():
    for item in (i for items in SCALES.values() for i in items):
        for code in range(3):
            assert scored_value(item, scored_value(item, code)) == code
    assert {i for i in REVERSED} == {"obeys", "friend", "popular", "reflect", "attends"}


@pytest.mark.parametrize("instrument_id", sorted(INSTRUMENTS))
def test_bad_input_is_refused(instrument_id):
    instrument = INSTRUMENTS[instrument_id]
    for answers in ({"consid": 3}, {"consid": -1}, {"consid": "1"}, {"consid": 1.5}, {"nope": 1},
                    {"ebddiff": 4}, {"distres": 4}):
        with pytest.raises(AnswerError):
            instrument.score_answers(answers)


@pytest.mark.parametrize("instrument_id", sorted(INSTRUMENTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_properties(instrument_id, data):
    instrument = INSTRUMENTS[instrument_id]
    answers = data.draw(answer_sets(instrument))
    result = instrument.score_answers(answers)
    # Scores stay in their declared ranges; bands are declared ones.
    assert result_problems(instrument, result) == []
    # Key order does not matter.
    shuffled = dict(data.draw(st.permutations(list(answers.items()))))
    assert instrument.score_answers(shuffled).to_dict() == result.to_dict()
    # Adding an answer never turns a valid result invalid.
    unanswered = [i for i in instrument.definition.item_ids if i not in answers]
    if result.valid and unanswered:
        item_id = data.draw(st.sampled_from(unanswered))
        item = instrument.definition.items_by_id[item_id]
        code = data.draw(st.sampled_from([o["code"] for o in instrument.definition.scale_options(item)]))
        assert instrument.score_answers({**answers, item_id: code}).valid
    # The derived scores are sums of their parts.
    s = result.scores
    if s["total_difficulties"] is not None:
        assert s["total_difficulties"] == s["emotional"] + s["conduct"] + s["hyperactivity"] + s["peer"]
        assert s["externalising"] + s["internalising"] == s["total_difficulties"]
    if answers.get("ebddiff") == 0:
        assert s["impact"] == 0
