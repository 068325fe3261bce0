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
