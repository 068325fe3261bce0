"""Rescoring: a plugin changes its scoring rule; `formengine rescore` brings stored responses onto it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formengine.api import Instrument, ScoreResult, hookimpl, load_definition
from formengine.cli import main
from formengine.db import get_db
from formengine.demo import load_demo
from formengine.models import Alert, AuditEvent, RescoreRun, Response, Score
from formengine.models.base import utcnow
from formengine.registry import get_registry
from formengine.rescore_service import targets_for
from formengine.rescoring import RescoreBusy, Summary, outdated_counts, start_run
from tests.conftest import csrf_token, login
from tests.test_reports import World

MOOD = {
    "id": "tmood",
    "version": "1.0",
    "title": {"da": "Humør", "en": "Mood"},
    "respondent": "self",
    "licence": {"holder": "test", "terms": {"da": "test", "en": "test"}},
    "scales": {"s": {"options": [{"code": c, "label": {"da": f"k{c}", "en": f"c{c}"}} for c in range(4)]}},
    "items": [{"id": f"m_{i}", "scale": "s", "label": {"da": f"Del {i}", "en": f"Part {i}"},
               "required": False} for i in range(1, 5)],
    "scores": [{"name": "mood", "label": {"da": "Humør", "en": "Mood"}, "min": 0, "max": 12,
                "bands": {"low": {"da": "Lav", "en": "Low"}, "high": {"da": "Høj", "en": "High"}}}],
}


def mood_plugin(version: str, missing_allowed: int, alert_at: int | None = None):
    """Version 1 allows two missing items (prorated); version 2 allows one; ``alert_at`` raises an alert."""
    def score(answers, context):
        given = [answers[f"m_{i}"] for i in range(1, 5) if f"m_{i}" in answers]
        if 4 - len(given) > missing_allowed:
            result = ScoreResult(valid=False, scores={"mood": None})
            result.flag("missing_items", "too many missing items")
            return result
        total = round(sum(given) * 4 / len(given))
        result = ScoreResult(valid=True, scores={"mood": total},
                             bands={"mood": "high" if total >= 6 else "low"})
        if alert_at is not None and total <= alert_at:
            result.flag("very_low_mood", "follow up on the low mood", level="alert")
        return result

    class Plugin:
        @hookimpl
        def formengine_instruments(self):
            return [Instrument(definition=load_definition(MOOD), score=score, scoring_version=version)]

    return [(Plugin(), f"mood_v{version}")]


ANSWER_SETS = [
    {"m_1": 3, "m_2": 3},                      # two missing: valid under v1, invalid under v2
    {"m_1": 1, "m_2": 1, "m_3": 1},            # one missing: valid under both
    {"m_1": 2, "m_2": 2, "m_3": 1, "m_4": 1},  # complete: 6, high
]


@pytest.fixture
def stored(make_app):
    """Three responses stored under scoring version 1; returns an app factory for version 2."""
    app1 = make_app(EXTRA_PLUGINS=mood_plugin("1", 2))
    with get_db(app1).session() as session:
        world = World(session, get_registry(app1))
        m = world.municipality("Mood town")
        other = world.municipality("Elsewhere")
        for n, answers in enumerate(ANSWER_SETS):
            family = world.family(m, f"M{n}")
            world.respond("tmood", answers, world.person(family, name=f"m{n}"), world.wave(family, 1))
        family = world.family(other, "E1")
        world.respond("tmood", ANSWER_SETS[0], world.person(family, name="e1"), world.wave(family, 1))
    return lambda **extra: make_app(EXTRA_PLUGINS=mood_plugin("2", 1), **extra)


@pytest.fixture
def client_for():
    def make(app, username):
        with get_db(app).session() as session:
            load_demo(session, get_registry(app))
        client = app.test_client()
        assert login(client, username).status_code == 302
        return client

    return make


def _current(app):
    with get_db(app).session() as session:
        responses = session.scalars(select(Response).where(Response.instrument_id == "tmood")
                                    .order_by(Response.id)).all()
        return [(r.current_score.scoring_version, r.current_score.valid) for r in responses]


def test_rescore_command_previews_asks_and_keeps_the_old_rows(stored):
    app = stored()
    runner = app.test_cli_runner()
    assert _current(app) == [("1", True)] * 4

    preview = runner.invoke(main, ["rescore", "tmood", "--municipality", "Mood town", "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "rescored: 3" in preview.output and "valid -> invalid: 1" in preview.output
    assert _current(app) == [("1", True)] * 4  # a preview writes nothing

    declined = runner.invoke(main, ["rescore", "tmood", "--municipality", "Mood town"], input="n\n")
    assert "Rescore 3 responses?" in declined.output and "Nothing changed." in declined.output
    assert _current(app) == [("1", True)] * 4

    done = runner.invoke(main, ["rescore", "tmood", "--municipality", "Mood town"], input="y\n")
    assert done.exit_code == 0, done.output
    assert "Rescored (run #" in done.output and "valid -> invalid: 1" in done.output
    assert "band change tmood.mood: high → -: 1" in done.output
    # Mood town's responses are now under version 2; Elsewhere's keeps version 1
    assert _current(app) == [("2", False), ("2", True), ("2", True), ("1", True)]
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(Score)) == 4 + 3  # old rows kept
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "rescore")).one()
        assert event.detail["summary"]["rescored"] == 3 and event.detail["instruments"] == ["tmood"]

    again = runner.invoke(main, ["rescore", "tmood", "--yes"])
    assert "already under the current rules: 3" in again.output and "rescored: 1" in again.output
    assert runner.invoke(main, ["rescore", "tmood", "--yes"]).output.count("Nothing to rescore") == 1


def test_bad_requests_are_refused_and_change_nothing(stored):
    app = stored()
    runner = app.test_cli_runner()
    unknown = runner.invoke(main, ["rescore", "nope"])
    assert unknown.exit_code != 0 and "nope: not an installed instrument" in unknown.output
    nowhere = runner.invoke(main, ["rescore", "tmood", "--municipality", "Nowhere"])
    assert nowhere.exit_code != 0 and "unknown municipality 'Nowhere'" in nowhere.output
    assert _current(app) == [("1", True)] * 4


def test_concurrent_rescoring_is_refused_and_an_interrupted_run_resumes_without_duplicates(stored):
    app = stored()
    targets = targets_for(app, ["tmood"])
    with get_db(app).session() as session:
        run = start_run(session, targets)
        with pytest.raises(RescoreBusy, match="concurrent rescoring is refused"):
            start_run(session, targets)
        busy = app.test_cli_runner().invoke(main, ["rescore", "tmood", "--yes"])
        assert busy.exit_code != 0 and f"run #{run.id}" in busy.output

        session.delete(run)
        session.commit()
    # a run killed after its first batch (one response) committed; resumed once its heartbeat is stale
    with get_db(app).session() as session:
        run = start_run(session, targets)
        run.status, run.heartbeat_at = "running", utcnow().replace(year=2020)
        run.cursor = session.scalar(select(func.min(Response.id)))
        session.add(Score(response_id=run.cursor, scoring_version="2", instrument_version="1.0", valid=False,
                          scores={"mood": None}, bands={}, flags=[], context_key=targets["tmood"].key,
                          rescore_run_id=run.id))
        session.commit()
    resumed = app.test_cli_runner().invoke(main, ["rescore", "tmood", "--yes"])
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming interrupted run" in resumed.output
    with get_db(app).session() as session:
        rows = session.execute(select(Score.response_id, func.count()).where(Score.scoring_version == "2")
                               .group_by(Score.response_id)).all()
        assert len(rows) == 4 and all(count == 1 for _rid, count in rows)
    assert [v for v, _valid in _current(app)] == ["2"] * 4


def test_outdated_counts_offer_rescoring(stored):
    app = stored()
    with get_db(app).session() as session:
        assert outdated_counts(session, targets_for(app, ["tmood"])) == {"tmood": 4}


def test_summary_round_trips():
    summary = Summary(examined=3, rescored=2, bands={"x.y": {"a → b": 1}})
    assert Summary.from_dict(summary.to_dict()) == summary


def test_rescoring_page_previews_then_rescores_as_a_job(stored, client_for):
    app = stored()
    client = client_for(app, "sysadmin")
    page = client.get("/admin/rescoring/").get_data(as_text=True)
    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": csrf_token(page)})
    page = client.get("/admin/rescoring/").get_data(as_text=True)
    assert "tmood: 4 responses were scored with another scoring version or norm pack." in page
    token = csrf_token(page)
    preview = client.post("/admin/rescoring/preview", data={"csrf_token": token, "instrument": "tmood"},
                          follow_redirects=True)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Finished" in html and "Rescore 4 responses now" in html
    assert _current(app) == [("1", True)] * 4
    with get_db(app).session() as session:
        run_id = session.scalar(select(func.max(RescoreRun.id)))
    done = client.post(f"/admin/rescoring/runs/{run_id}/confirm", data={"csrf_token": csrf_token(html)},
                       follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "What was changed" in text and "Rescored" in text
    assert [v for v, _valid in _current(app)] == ["2"] * 4
    fragment = client.get(f"/admin/rescoring/runs/{run_id + 1}", headers={"HX-Request": "true"})
    assert "HX-Request" in fragment.headers["Vary"] and "<html" not in fragment.get_data(as_text=True)


def test_team_members_cannot_rescore(stored, client_for):
    app = stored()
    client = client_for(app, "team-a")
    assert client.get("/admin/rescoring/").status_code == 403
    assert client.post("/admin/rescoring/preview", data={"instrument": "tmood"}).status_code in (400, 403)


def test_installing_a_norm_pack_offers_rescoring_and_rescoring_uses_it(make_app, tmp_path):
    import json

    from tests.test_norms import ITEMS, made_up_table

    instance = tmp_path / "instance"
    app = make_app(INSTANCE_PATH=str(instance))
    with get_db(app).session() as session:
        world = World(session, get_registry(app))
        m = world.municipality("Norm town")
        family = world.family(m, "N1")
        world.respond("kidscreen10_parent", {item: 4 for item in ITEMS}, world.person(family),
                      world.wave(family, 1))
    assert _scores(app, "kidscreen10_parent") == [None]  # no norm table: no T value

    (instance / "norms").mkdir(parents=True, exist_ok=True)
    (instance / "norms" / "kidscreen10_parent.json").write_text(json.dumps(made_up_table()), "utf-8")
    app = make_app(INSTANCE_PATH=str(instance))
    runner = app.test_cli_runner()
    listed = runner.invoke(main, ["norms"])
    assert "kidscreen10_parent: 1 stored responses were scored under another scoring version or norm pack; " \
           "`formengine rescore kidscreen10_parent` shows what would change" in listed.output
    assert _scores(app, "kidscreen10_parent") == [None]  # offered, not forced
    done = runner.invoke(main, ["rescore", "kidscreen10_parent", "--yes"])
    assert done.exit_code == 0 and "rescored: 1" in done.output
    assert _scores(app, "kidscreen10_parent") == [36.25]
    assert "stored responses were scored" not in runner.invoke(main, ["norms"]).output


def _scores(app, instrument_id):
    with get_db(app).session() as session:
        responses = session.scalars(select(Response).where(Response.instrument_id == instrument_id)).all()
        return [r.current_score.scores.get("t_value") for r in responses]


def test_the_page_queues_the_run_for_the_job_worker(stored, client_for):
    """With huey's SQLite storage the request only queues; a worker (here a thread) carries the run out."""
    import time

    from formengine.jobs import jobs

    app = stored(JOBS_BACKEND="sqlite", TESTING=False, WTF_CSRF_ENABLED=True)
    client = client_for(app, "sysadmin")
    token = csrf_token(client.get("/admin/rescoring/").get_data(as_text=True))
    page = client.post("/admin/rescoring/preview", data={"csrf_token": token, "instrument": "tmood"},
                       follow_redirects=True)
    assert 'hx-trigger="every 2s"' in page.get_data(as_text=True)  # still queued: the page polls
    with get_db(app).session() as session:
        run = session.scalars(select(RescoreRun)).one()
        assert run.status == "queued"
        run_id = run.id
    consumer = jobs(app).huey.create_consumer(workers=1, worker_type="thread")
    consumer.start()
    try:
        for _ in range(300):
            with get_db(app).session() as session:
                if session.get(RescoreRun, run_id).status == "done":
                    break
            time.sleep(0.1)
    finally:
        consumer.stop(graceful=True)
    done = client.get(f"/admin/rescoring/runs/{run_id}").get_data(as_text=True)
    assert "Rescore 4 responses now" in done or "Genberegn 4 besvarelser nu" in done


def test_rescoring_uses_each_municipalitys_own_settings(make_app):
    from formengine.plugin_settings import save_settings
    from formengine.responses import submit_new_response
    from formengine.scoring_context import scoring_context
    from tests.test_reports import who5_answers

    app = make_app()
    registry = get_registry(app)
    who5 = registry.get("who5")
    with get_db(app).session() as session:
        world = World(session, registry)
        towns = [world.municipality(name) for name in ("Setting town", "Default town")]
        for town in towns:
            family = world.family(town, f"S{town.id}")
            person, wave = world.person(family), world.wave(family, 1)
            with app.app_context():
                context = scoring_context(app, who5, session=session, municipality_id=town.id)
            submit_new_response(session, who5, who5_answers(32), municipality_id=town.id, entered_by=None,
                                wording={"kind": "project_labels"}, person_id=person.id, wave_id=wave.id,
                                context=context)
        ids = [t.id for t in towns]
    with get_db(app).session() as session:
        save_settings(session, who5, ids[0], {"who5_band_scheme": "dk_practice"}, user=None)
    with get_db(app).session() as session:
        assert outdated_counts(session, targets_for(app, ["who5"])) == {"who5": 1}  # only Setting town
    done = app.test_cli_runner().invoke(main, ["rescore", "who5", "--yes"])
    assert done.exit_code == 0 and "rescored: 1" in done.output, done.output
    with get_db(app).session() as session:
        rows = session.scalars(select(Response).where(Response.instrument_id == "who5")
                               .order_by(Response.municipality_id)).all()
        by_town = {r.municipality_id: (r.current_score.options, r.current_score.bands["percent"])
                   for r in rows}
    assert by_town[ids[0]][0] == {"who5_band_scheme": "dk_practice"}
    assert by_town[ids[1]][0] == {"who5_band_scheme": "topp2015"}
    assert by_town[ids[0]][1] != by_town[ids[1]][1]  # 32 reads differently under the two schemes


def test_rescoring_raises_the_alerts_the_new_scores_raise_once(stored, make_app):
    from tests.test_alerts import recorder

    calls = recorder()
    app = make_app(EXTRA_PLUGINS=mood_plugin("3", 1, alert_at=4) + [(calls, "alert_recorder")])
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["rescore", "tmood", "--yes"]).exit_code == 0
    with get_db(app).session() as session:
        alerts = session.scalars(select(Alert)).all()
        uuid = session.scalars(select(Response.uuid).order_by(Response.id)).all()[1]
    # only the response whose new score is 4 (one item missing, prorated) raises the alert
    assert [(a.code, a.acknowledged_at, a.notified_at is not None) for a in alerts] == [
        ("very_low_mood", None, True)]
    assert calls.calls == [("very_low_mood", "tmood", uuid, "Mood town", "tmood")]
    # a later rule change with the same alert raises nothing again (one alert per response and code)
    again = make_app(EXTRA_PLUGINS=mood_plugin("4", 1, alert_at=4) + [(calls, "alert_recorder")])
    assert again.test_cli_runner().invoke(main, ["rescore", "tmood", "--yes"]).exit_code == 0
    with get_db(again).session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
    assert len(calls.calls) == 1
