"""One current-score rule: every reader shows a response's newest score row and names its scoring version."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from formengine.current_score import (
    current_of,
    current_rows,
    current_score_id,
    current_score_ids_between,
    is_current_score,
    scoring_versions_note,
)
from formengine.db import get_db
from formengine.exports.dataset import (
    ExportRequest,
    iter_long_rows,
    iter_wide_rows,
    long_columns,
    wide_columns,
)
from formengine.models import Response, Score
from formengine.registry import get_registry
from formengine.reports import person_timeline
from tests.test_reports import World, who5_answers


def _add_score(session, response, version, percent, valid=True):
    score = Score(response_id=response.id, scoring_version=version,
                  instrument_version=response.instrument_version,
                  valid=valid, scores={"percent": percent, "raw": percent // 4},
                  bands={"percent": "good_wellbeing" if percent > 50 else "poor_wellbeing"}, flags=[])
    session.add(score)
    session.flush()
    session.expire(response)
    return score


def test_the_three_forms_of_the_rule_agree(app):
    registry = get_registry(app)
    with get_db(app).session() as session:
        world = World(session, registry)
        m = world.municipality("Rule")
        family = world.family(m, "R1")
        person = world.person(family)
        responses = [world.respond("who5", who5_answers(p), person, world.wave(family, n))
                     for n, p in ((1, 40), (2, 60), (3, 80))]
        # the first response rescored twice (another scoring version, then back): the newest row wins
        _add_score(session, responses[0], "2", 44)
        newest = _add_score(session, responses[0], "1", 48)
        by_sql = dict(session.execute(
            select(Response.id, Score.id).join(Score, Score.id == current_score_id())).all())
        rows = session.execute(select(Response, Score).join(Score, Score.response_id == Response.id)
                               .order_by(Response.id, Score.id))
        by_stream = {r.id: s.id for r, s in current_rows(rows)}
        by_object = {r.id: current_of(r.scores).id for r in responses}
        assert by_sql == by_stream == by_object
        ids = sorted(by_sql)
        assert set(session.scalars(current_score_ids_between(ids[0], ids[-1]))) == set(by_sql.values())
        by_anti_join = dict(session.execute(select(Response.id, Score.id).join(
            Score, Score.response_id == Response.id).where(is_current_score())).all())
        assert by_anti_join == by_sql
        assert by_object[responses[0].id] == newest.id
        assert responses[0].current_score.scores["percent"] == 48
        assert current_of([]) is None


def test_scoring_versions_note_sorts_versions_as_numbers():
    assert scoring_versions_note(["10", "2", None, "2", "1.5"]) == ["1.5", "2", "10"]


def test_every_reader_shows_the_current_score_with_its_scoring_version(app):
    registry = get_registry(app)
    instrument = registry.get("who5")
    with get_db(app).session() as session:
        world = World(session, registry)
        m = world.municipality("Readers")
        family = world.family(m, "R2", enrolled_on=date(2024, 1, 1))
        person = world.person(family, name="Reader")
        first = world.respond("who5", who5_answers(40), person, world.wave(family, 1))
        world.respond("who5", who5_answers(80), person, world.wave(family, 2))
        _add_score(session, first, "2", 52)
        session.commit()

        points = [s for s in person_timeline(session, registry, person.id) if s.score_name == "percent"][0]
        assert [(p.value, p.scoring_version) for p in points.points] == [(52.0, "2"), (80.0, "1")]
        assert points.scoring_versions == ["1", "2"]

        request = ExportRequest(("who5",), identifiable=True)
        names = [c.name for c in long_columns(instrument, True)]
        long = [dict(zip(names, row, strict=True)) for row in iter_long_rows(session, instrument, request)]
        assert [(r["scoring_version"], r["score_percent"]) for r in long] == [("2", 52), ("1", 80)]

        columns = wide_columns(session, registry, request)
        wide = [dict(zip([c.name for c in columns], row, strict=True))
                for row in iter_wide_rows(session, registry, request, columns)]
        assert wide[0]["who5_percent_w1"] == 52 and wide[0]["who5_sv_w1"] == "2"
        assert wide[0]["who5_percent_w2"] == 80 and wide[0]["who5_sv_w2"] == "1"


def test_result_page_says_when_a_score_is_from_an_older_scoring_version(app, login_as):
    registry = get_registry(app)
    with get_db(app).session() as session:
        world = World(session, registry)
        m = world.municipality("Older")
        response = world.respond("who5", who5_answers(40), None, world.wave(None, 1, municipality=m),
                                 municipality=m)
        _add_score(session, response, "0", 40)
        uuid = response.uuid
        session.commit()
    client = login_as("sysadmin")
    page = client.get(f"/responses/{uuid}").get_data(as_text=True)
    assert "scoringsversion 0" in page
    assert "Scoret med scoringsversion 0; instrumentet scorer nu med version 1." in page
