"""Definition versions: answers keep their version; a new version that would misread them is refused."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import delete, select

from formengine.api import Instrument, Migration, ScoreResult, hookimpl, load_definition
from formengine.cli import main
from formengine.db import get_db
from formengine.exports.dataset import ExportRequest, codebook_rows, iter_long_rows, long_layout
from formengine.exports.fhir import ndjson
from formengine.instruments import breaking_changes
from formengine.models import DefinitionVersion, Family, Municipality, Person, Response
from formengine.registry import get_registry
from formengine.reports import progression_report
from tests.conftest import login
from tests.test_reports import World

V1 = {
    "id": "tver",
    "version": "1.0.0",
    "title": {"da": "Versioneret", "en": "Versioned"},
    "respondent": "self",
    "licence": {"holder": "test", "terms": {"da": "test", "en": "test"}},
    "scales": {"s": {"options": [{"code": c, "label": {"da": f"k{c}", "en": f"c{c}"}} for c in range(4)]}},
    "items": [{"id": f"q_{i}", "scale": "s", "label": {"da": f"Del {i}", "en": f"Part {i}"}}
              for i in range(1, 4)],
    "scores": [{"name": "total", "label": {"da": "Total (gammel)", "en": "Total (old)"},
                "min": 0, "max": 12}],
}
# 2.0.0: codes shifted to 1-4, q_3 removed, q_2 renamed to q_two, a new score label
V2 = copy.deepcopy(V1)
V2["version"] = "2.0.0"
V2["scales"]["s"]["options"] = [{"code": c, "label": {"da": f"k{c}", "en": f"c{c}"}}
                                for c in range(1, 5)]
V2["items"] = [V2["items"][0], {**V2["items"][1], "id": "q_two"}]
V2["scores"][0]["label"] = {"da": "Total (ny)", "en": "Total (new)"}
MIGRATION = Migration(from_version="1.0.0", renames={"q_2": "q_two"},
                      recodes={"q_1": {0: 1, 1: 2, 2: 3, 3: 4}, "q_two": {0: 1, 1: 2, 2: 3, 3: 4}},
                      dropped=("q_3",), comparable=True)


def plugin(definition, migrations=()):
    def score(answers, context):
        return ScoreResult(valid=True, scores={"total": sum(answers.values())})

    class Plugin:
        @hookimpl
        def formengine_instruments(self):
            return [Instrument(definition=load_definition(definition), score=score, migrations=migrations)]

    return [(Plugin(), f"versioned_{definition['version']}")]


def test_breaking_changes_name_what_would_be_misread():
    old, new = load_definition(V1), load_definition(V2)
    problems = breaking_changes(old, new)
    assert "item 'q_2' was removed" in problems and "item 'q_3' was removed" in problems
    assert any("item 'q_1': codes [0] no longer exist" in p for p in problems)
    assert breaking_changes(old, new, MIGRATION) == []
    wrong = Migration(from_version="1.0.0", renames={"q_2": "q_two"}, recodes={"q_1": {3: 9}},
                      dropped=("q_3",))
    assert any("recoded codes [0, 9] are not codes of the new scale" in p
               for p in breaking_changes(old, new, wrong))
    moved = copy.deepcopy(V1)
    moved["version"] = "1.1.0"
    moved["scales"]["s"]["options"].reverse()
    assert any("moved on the scale" in p for p in breaking_changes(old, load_definition(moved)))
    relabelled = copy.deepcopy(V1)
    relabelled["version"] = "1.0.1"
    relabelled["items"][0]["label"] = {"da": "Bedre ordlyd", "en": "Better wording"}
    assert breaking_changes(old, load_definition(relabelled)) == []


def test_migration_maps_old_answers():
    assert MIGRATION.apply({"q_1": 0, "q_2": 3, "q_3": 2}) == {"q_1": 1, "q_two": 4}


@pytest.fixture
def stored_v1(make_app):
    app = make_app(EXTRA_PLUGINS=plugin(V1))
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        m = world.municipality("Versions")
        family = world.family(m, "V1")
        person = world.person(family, name="v1")
        world.respond("tver", {"q_1": 0, "q_2": 1, "q_3": 2}, person, world.wave(family, 1))
        assert session.scalars(select(DefinitionVersion.version)).all() == ["1.0.0"]
        ids = {"municipality": m.id, "family": family.id, "person": person.id}
    return ids


def test_init_db_keeps_a_copy_for_responses_stored_before_copies_were_kept(stored_v1, make_app):
    app = make_app(EXTRA_PLUGINS=plugin(V1))
    with get_db(app).session() as session:
        session.execute(delete(DefinitionVersion))
        session.commit()
    # without a copy, a breaking 2.0.0 could not be compared; init-db keeps one from the installed plugin
    assert app.test_cli_runner().invoke(main, ["init-db"]).exit_code == 0
    with get_db(app).session() as session:
        assert session.scalars(select(DefinitionVersion.version)).all() == ["1.0.0"]
    refused = get_registry(make_app(EXTRA_PLUGINS=plugin(V2))).failed
    assert any("would misread 1 stored response(s)" in p.reason for p in refused)


def test_init_db_names_stored_versions_no_plugin_ships_any_more(stored_v1, make_app):
    app = make_app(EXTRA_PLUGINS=plugin(V2, (MIGRATION,)))
    with get_db(app).session() as session:
        session.execute(delete(DefinitionVersion))
        session.commit()
    result = app.test_cli_runner().invoke(main, ["init-db"])
    assert result.exit_code == 0
    assert "note: tver 1.0.0: 1 stored response(s), but no copy" in result.output


def test_a_breaking_version_without_a_migration_is_refused_at_load(stored_v1, make_app):
    app = make_app(EXTRA_PLUGINS=plugin(V2))
    registry = get_registry(app)
    assert registry.get("tver") is None
    reason = " ".join(p.reason for p in registry.failed if p.name == "versioned_2.0.0")
    assert "instrument 'tver' 2.0.0 would misread 1 stored response(s) answered with version 1.0.0" in reason
    assert "item 'q_3' was removed" in reason and "codes [0] no longer exist" in reason
    listing = app.test_cli_runner().invoke(main, ["plugins"])
    assert listing.exit_code != 0 and "versioned_2.0.0  FAILED" in listing.output
    assert "Declare a Migration(from_version='1.0.0'" in listing.output


def test_with_a_migration_old_responses_keep_their_version_labels_and_pair_where_comparable(
        stored_v1, make_app):
    app = make_app(EXTRA_PLUGINS=plugin(V2, (MIGRATION,)))
    registry = get_registry(app)
    instrument = registry.get("tver")
    assert instrument is not None and instrument.version == "2.0.0"
    listing = app.test_cli_runner().invoke(main, ["plugins"])
    assert "responses under older definition versions: 1.0.0 (1)" in listing.output
    with get_db(app).session() as session:
        world = World(session, registry)
        family = world.family(session.get(Municipality, stored_v1["municipality"]), "V2")
        person = world.person(family, name="v2")
        world.respond("tver", {"q_1": 4, "q_two": 4}, person, world.wave(family, 1))
        old_person = session.get(Person, stored_v1["person"])
        world.respond("tver", {"q_1": 1, "q_two": 1}, old_person,
                      world.wave(session.get(Family, stored_v1["family"]), 2))
        old = session.scalars(select(Response).where(Response.instrument_version == "1.0.0")).one()
        uuid = old.uuid
        report = progression_report(session, instrument, "total", 1, 2)
        assert report.stats.n == 1 and report.definition_versions == ["1.0.0", "2.0.0"]
        assert report.n_not_comparable == 0
        strict = Instrument(definition=instrument.definition, score=instrument.score,
                            migrations=(Migration(**{**MIGRATION.__dict__, "comparable": False}),))
        refused = progression_report(session, strict, "total", 1, 2)
        assert refused.stats.n == 0 and refused.n_not_comparable == 1
    from formengine.demo import load_demo

    with get_db(app).session() as session:
        load_demo(session, registry)
    client = app.test_client()
    assert login(client, "sysadmin").status_code == 302
    page = client.get(f"/responses/{uuid}").get_data(as_text=True)
    assert "Total (gammel)" in page and "Total (ny)" not in page

    # the long export keeps old answers under their own items and labels them per version
    with get_db(app).session() as session:
        request = ExportRequest(instrument_ids=("tver",), identifiable=True)
        columns = long_layout(session, instrument, request)
        rows = [dict(zip([c.name for c in columns], row, strict=True))
                for row in iter_long_rows(session, instrument, request, columns)]
        book = list(codebook_rows(columns))
    names = [c.name for c in columns]
    assert names.index("q_1") < names.index("q_two") < names.index("q_2") < names.index("q_3")
    old_row = next(r for r in rows if r["instrument_version"] == "1.0.0")
    assert (old_row["q_1"], old_row["q_2"], old_row["q_3"], old_row["q_two"]) == (0, 1, 2, None)
    new_rows = [r for r in rows if r["instrument_version"] == "2.0.0"]
    assert all(r["q_2"] is None and r["q_3"] is None for r in new_rows) and len(new_rows) == 2
    entries = {(row[0], row[8]): row for row in book[2:]}
    assert entries[("q_1", "2.0.0")][4].startswith("1=k1")  # codes 1-4 under 2.0.0
    assert entries[("q_1", "1.0.0")][4].startswith("0=k0")  # and 0-3 under 1.0.0
    assert entries[("q_3", "1.0.0")][1] == "Del 3" and ("q_3", "2.0.0") not in entries
    assert ("q_two", "1.0.0") not in entries  # nothing differs: one row

    # FHIR: the old response references and is labelled with its own version's Questionnaire
    with get_db(app).session() as session:
        resources = [json.loads(line) for line in ndjson(session, [instrument],
                                                         ExportRequest(instrument_ids=("tver",)))]
    questionnaires = {q["version"]: q for q in resources if q["resourceType"] == "Questionnaire"}
    assert sorted(questionnaires) == ["1.0.0", "2.0.0"]
    assert [i["linkId"] for i in questionnaires["1.0.0"]["item"]] == ["q_1", "q_2", "q_3"]
    assert questionnaires["1.0.0"]["item"][0]["answerOption"][0]["valueCoding"]["code"] == "0"
    old_answer = next(r for r in resources if r["resourceType"] == "QuestionnaireResponse"
                      and r["questionnaire"].endswith("|1.0.0"))
    assert [i["linkId"] for i in old_answer["item"]] == ["q_1", "q_2", "q_3"]
    assert old_answer["item"][0]["answer"][0]["valueCoding"]["display"] == "k0"


def test_a_new_database_starts_without_a_warning_and_an_unreachable_one_warns(tmp_path, caplog):
    from formengine import create_app

    config = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test", "LOAD_ENTRY_POINTS": False}
    with caplog.at_level("INFO", logger="formengine.definition_versions"):
        create_app({**config, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"})
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "no tables yet" in caplog.records[0].getMessage()

    caplog.clear()
    with caplog.at_level("INFO", logger="formengine.definition_versions"):
        create_app({**config, "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'x.db'}"})
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert caplog.records[0].getMessage() == "definition versions not checked: OperationalError"
