"""The conformance kit catches each kind of broken plugin, and ships as pytest fixtures for plugin authors."""

import json
import types
from pathlib import Path

import pytest

from formengine.api import Instrument, ScoreResult, hookimpl, load_definition
from formengine.testing import ConformanceError, check_plugin

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

DEFINITION = {
    "id": "toy", "version": "1.0", "title": {"da": "Legetøj", "en": "Toy"}, "respondent": "self",
    "licence": {"holder": "Test", "terms": {"da": "Fri", "en": "Free"}},
    "scales": {"yn": {"options": [{"code": 0, "label": {"da": "Nej", "en": "No"}},
                                  {"code": 1, "label": {"da": "Ja", "en": "Yes"}}]}},
    "items": [{"id": "q1", "scale": "yn", "label": {"da": "Et", "en": "One"}},
              {"id": "q2", "scale": "yn", "label": {"da": "To", "en": "Two"}}],
    "scores": [{"name": "sum", "label": {"da": "Sum", "en": "Sum"}, "min": 0, "max": 2,
                "bands": {"low": {"da": "Lav", "en": "Low"}, "high": {"da": "Høj", "en": "High"}}}],
}


def good_score(answers, context=None):
    values = [answers.get("q1"), answers.get("q2")]
    if None in values:
        result = ScoreResult(valid=False, scores={"sum": None})
        result.flag("missing_items", "Both items are needed.")
        return result
    total = sum(values)
    return ScoreResult(valid=True, scores={"sum": total}, bands={"sum": "low" if total < 2 else "high"})


def plugin(tmp_path, score=good_score, vectors=(), definition=None):
    """A throw-away plugin module with a vectors.jsonl beside it."""
    module = types.ModuleType("toy_plugin")
    module.__file__ = str(tmp_path / "toy_plugin.py")
    data = definition or DEFINITION

    @hookimpl
    def formengine_instruments():
        return [Instrument(definition=load_definition(data), score=score)]

    module.formengine_instruments = formengine_instruments
    (tmp_path / "vectors.jsonl").write_text("".join(json.dumps(v) + "\n" for v in vectors), "utf-8")
    return module


GOOD_VECTOR = {"answers": {"q1": 1, "q2": 1}, "expected": {"valid": True, "scores": {"sum": 2},
                                                           "bands": {"sum": "high"}, "flags": []}}


def test_a_good_plugin_passes(tmp_path):
    assert [i.id for i in check_plugin(plugin(tmp_path, vectors=[GOOD_VECTOR]))] == ["toy"]


def test_a_wrong_vector_fails_with_its_line_and_note(tmp_path):
    wrong = {**GOOD_VECTOR, "expected": {**GOOD_VECTOR["expected"], "scores": {"sum": 1}}, "note": "edge"}
    with pytest.raises(ConformanceError, match=r"toy vector line 2 \(edge\): sum is 2, expected 1"):
        check_plugin(plugin(tmp_path, vectors=[GOOD_VECTOR, wrong]))


def test_too_few_vectors_fail(tmp_path):
    with pytest.raises(ConformanceError, match="1 known-answer vectors, at least 15 required"):
        check_plugin(plugin(tmp_path, vectors=[GOOD_VECTOR]), min_vectors=15)


def test_a_missing_declared_score_fails(tmp_path):
    with pytest.raises(ConformanceError, match="did not return"):
        check_plugin(plugin(tmp_path, score=lambda a, c=None: ScoreResult(valid=True, scores={})))


def test_out_of_range_scores_and_undeclared_bands_fail(tmp_path):
    def too_big(answers, context=None):
        return ScoreResult(valid=True, scores={"sum": 3})

    with pytest.raises(ConformanceError, match=r"sum = 3 is outside 0..2"):
        check_plugin(plugin(tmp_path, score=too_big))

    def odd_band(answers, context=None):
        return ScoreResult(valid=True, scores={"sum": 0}, bands={"sum": "purple"})

    with pytest.raises(ConformanceError, match="band 'purple' of sum is not one of"):
        check_plugin(plugin(tmp_path, score=odd_band))


def test_non_deterministic_or_order_dependent_scoring_fails(tmp_path):
    def first_key_wins(answers, context=None):
        first = next(iter(answers.values()), 0)
        return ScoreResult(valid=True, scores={"sum": first})

    with pytest.raises(ConformanceError, match="not deterministic"):
        check_plugin(plugin(tmp_path, score=first_key_wins))


def test_scoring_that_touches_the_database_fails(tmp_path):
    def impure(answers, context=None):
        import sqlalchemy

        sqlalchemy.create_engine("sqlite://")
        return good_score(answers)

    with pytest.raises(ConformanceError, match="scoring must be pure"):
        check_plugin(plugin(tmp_path, score=impure))


def test_bad_item_ids_fail(tmp_path):
    data = json.loads(json.dumps(DEFINITION))
    data["items"][1]["id"] = "q1"
    with pytest.raises(Exception, match="used twice"):
        check_plugin(plugin(tmp_path, definition=data))


def test_bare_flags_fail(tmp_path):
    def bare(answers, context=None):
        result = good_score(answers)
        result.flags.append(type(result.flags[0])("x", " ") if result.flags else None)
        result.flags = [f for f in result.flags if f is not None]
        return result

    with pytest.raises(ConformanceError, match="has no readable message"):
        check_plugin(plugin(tmp_path, score=bare))


def test_a_flag_without_danish_and_english_text_fails_and_passes_with_it(tmp_path):
    def alerting(answers, context=None):
        result = good_score(answers)
        if result.scores["sum"] == 2:
            result.flag("both_yes", "Both answers are yes: follow up.", "alert")
        return result

    with pytest.raises(ConformanceError, match="flag 'both_yes' has no Danish and English text"):
        check_plugin(plugin(tmp_path, score=alerting))
    texts = {"both_yes": {"da": "Begge svar er ja.", "en": "Both answers are yes."}}
    both = {**DEFINITION, "flag_texts": texts}
    assert [i.id for i in check_plugin(plugin(tmp_path, score=alerting, definition=both))] == ["toy"]


def test_the_core_explains_every_conventional_code_in_both_languages(make_app):
    from flask_babel import force_locale

    from formengine.instruments import CONVENTIONAL_FLAG_CODES
    from formengine.web.flag_texts import explain_flag

    app = make_app()
    shown = {}
    for lang in ("da", "en"):
        with app.test_request_context(), force_locale(lang):
            for code in CONVENTIONAL_FLAG_CODES:
                text = explain_flag({"code": code, "message": "the scoring's message"}, None, lang)["text"]
                assert text != "the scoring's message", (code, lang)
                shown[code, lang] = text
    assert all(shown[code, "da"] != shown[code, "en"] for code in CONVENTIONAL_FLAG_CODES)


def test_every_bundled_plugin_runs_the_kit_in_its_tests():
    for name in ("who5", "sdq", "pss", "kidscreen", "yls_cmi"):
        sources = "".join(p.read_text("utf-8") for p in (ROOT / "plugins" / name / "tests").glob("test_*.py"))
        assert "check_plugin(" in sources, name


def test_third_party_authors_get_the_fixtures_without_imports(pytester):
    """A plugin author's test file uses the fixtures from the pytest11 entry point."""
    pytester.makepyfile(test_author="""
        import formengine_plugins.pss as pss

        def test_my_plugin(formengine_check_plugin):
            instruments = formengine_check_plugin(pss, min_vectors=15)
            assert instruments[0].id == "pss"

        def test_my_wording(formengine_wording_pack):
            instrument = __import__("formengine_plugins.pss", fromlist=["x"]).formengine_instruments()[0]
            pack = formengine_wording_pack(instrument.definition, "da", {"pss_1": "Opdigtet tekst"})
            item = instrument.definition.items_by_id["pss_1"]
            assert pack.item(item, "da") == "Opdigtet tekst"
            assert pack.record()["kind"] == "wording_pack" and len(pack.record()["sha256"]) == 64
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)


# -- the kit refuses what the loader refuses, with the loader's reason --------------------------------

def _with(module, name, function, mark=True):
    function.__name__ = name
    setattr(module, name, hookimpl(function) if mark else function)
    return module


def test_a_misspelled_hook_is_refused_by_the_kit(tmp_path):
    module = _with(plugin(tmp_path), "formengine_result_veiw",
                   lambda response, instrument, history, lang: None)
    with pytest.raises(ConformanceError, match="formengine_result_veiw") as caught:
        check_plugin(module)
    assert "loader refuses" in str(caught.value)


def test_a_wrong_argument_name_is_refused_with_the_argument(tmp_path):
    module = _with(plugin(tmp_path), "formengine_result_view", lambda resp, instrument, history, lang: None)
    with pytest.raises(ConformanceError, match="formengine_result_view") as caught:
        check_plugin(module)
    # the reason, not only "Plugin ... for hook ...": the argument pluggy cannot find
    assert "resp" in str(caught.value) and "can not be found in the hookspec" in str(caught.value)


def test_an_excluded_api_range_is_refused_by_the_kit(tmp_path):
    module = plugin(tmp_path, vectors=[GOOD_VECTOR])
    module.REQUIRES_API = ">=2.0"
    with pytest.raises(ConformanceError, match=r"needs plugin API >=2.0, but this formengine provides 1.0"):
        check_plugin(module)


def test_a_hook_without_hookimpl_is_refused_not_loaded_empty(tmp_path):
    module = types.ModuleType("unmarked")
    module.__file__ = str(tmp_path / "unmarked.py")

    def formengine_instruments():
        return [Instrument(definition=load_definition(DEFINITION), score=good_score)]

    module.formengine_instruments = formengine_instruments
    with pytest.raises(ConformanceError, match="formengine_instruments is not marked with @hookimpl"):
        check_plugin(module)


def test_a_duplicate_instrument_id_in_one_plugin_is_refused(tmp_path):
    module = types.ModuleType("twins")
    module.__file__ = str(tmp_path / "twins.py")
    module.formengine_instruments = hookimpl(lambda: [Instrument(load_definition(DEFINITION), good_score),
                                                      Instrument(load_definition(DEFINITION), good_score)])
    with pytest.raises(ConformanceError, match="instrument 'toy' refused"):
        check_plugin(module)


def test_every_failing_vector_is_reported_with_its_answers(tmp_path):
    def divides(answers, context=None):
        if answers == {"q1": 1, "q2": 0}:
            return 1 / 0
        return good_score(answers)

    wrong = {"answers": {"q1": 0, "q2": 1}, "expected": {"scores": {"sum": 2}}}
    raising = {"answers": {"q1": 1, "q2": 0}, "expected": {"scores": {"sum": 1}}}
    with pytest.raises(ConformanceError) as caught:
        check_plugin(plugin(tmp_path, score=divides, vectors=[GOOD_VECTOR, wrong, raising]))
    message = str(caught.value)
    assert "2 known-answer vector(s) failed" in message
    assert 'line 2: sum is 1, expected 2 for {"q1": 0, "q2": 1}' in message
    assert 'line 3: scoring raised ZeroDivisionError: division by zero for {"q1": 1, "q2": 0}' in message
