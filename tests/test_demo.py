"""formengine demo: two municipalities, about ten families with consent and answered waves."""

from datetime import date

import pytest
from sqlalchemy import func, select

import formengine_plugins.programme
from formengine import clock
from formengine.db import get_db
from formengine.demo import plausible_answers
from formengine.measurement import family_plan
from formengine.models import Consent, Family, Municipality, Person, Response, Score, User, Wave
from formengine.registry import get_registry
from formengine.web.cases import missing_consent
from tests.conftest import load_demo_into


def load(app, today=None):
    return load_demo_into(app, cases=True, today=today)


def test_demo_families_persons_consent_and_answered_waves(app):
    summary = load(app)
    assert "13 demo families" in summary
    with get_db(app).session() as s:
        refs = sorted(s.scalars(select(Family.case_ref)))
        assert refs[:2] == ["DEMO-A-01", "DEMO-A-02"] and "DEMO-B-01" in refs and len(refs) == 13
        for family in s.scalars(select(Family)):
            municipality = s.get(Municipality, family.municipality_id)
            assert family.case_ref.startswith("DEMO-" + municipality.name[-1] + "-")
            assert {p.municipality_id for p in family.persons} == {family.municipality_id}
            assert any(p.role in ("child", "youth") for p in family.persons)
        roles = set(s.scalars(select(Person.role)))
        assert {"child", "youth", "parent"} <= roles
        ages = {(clock.today() - p.birth_date).days // 365 for p in s.scalars(select(Person))}
        assert min(ages) <= 8 and max(ages) >= 40
        closed = s.scalars(select(Family).where(Family.status == "closed")).all()
        assert closed and all(p.status == "closed" for f in closed for p in f.persons)
        # Everyone has consent except the newest family, which shows what missing consent looks like.
        without = {p.family.case_ref for p in s.scalars(select(Person)) if not p.consents}
        assert without == {"DEMO-A-06"}
        assert s.scalar(select(func.count()).select_from(Consent)) >= 20
        # Several waves answered, every answer consented, inside its family's period and scored.
        responses = list(s.scalars(select(Response).where(Response.person_id.is_not(None))))
        assert len(responses) > 100
        waves = {r.wave_id for r in responses}
        assert len({s.get(Wave, w).number for w in waves}) >= 3
        for response in responses:
            person = s.get(Person, response.person_id)
            when = response.submitted_at.date()
            assert any(c.given_on <= when for c in person.consents)
            assert person.family.enrolled_on <= when
            assert response.status == "submitted" and response.scores
        assert {r.mode for r in responses} >= {"in_person", "phone"}
        assert s.scalar(select(func.count()).select_from(Score)) >= len(responses)
        # The municipality's own rounds (fidelity) have answers too.
        assert s.scalar(select(func.count()).select_from(Response).where(Response.person_id.is_(None),
                                                                         Response.wave_id.is_not(None))) >= 2


def test_demo_twice_changes_nothing(app):
    load(app)
    with get_db(app).session() as s:
        before = [s.scalar(select(func.count()).select_from(m)) for m in (Family, Person, Response, User)]
    load(app)
    with get_db(app).session() as s:
        after = [s.scalar(select(func.count()).select_from(m)) for m in (Family, Person, Response, User)]
    assert before == after


def test_demo_works_with_only_some_instruments_installed(make_app):
    app = make_app(LOAD_ENTRY_POINTS=False, EXTRA_PLUGINS=[(formengine_plugins.programme, "programme")])
    load(app)
    with get_db(app).session() as s:
        used = set(s.scalars(select(Response.instrument_id)))
        assert used and used <= {"background_child", "background_parent", "progress_child",
                                 "progress_parent", "fidelity"}
        assert s.scalar(select(func.count()).select_from(Family)) == 13


def test_demo_answers_follow_the_form_and_drift_between_waves():
    import random

    instruments = formengine_plugins.programme.formengine_instruments()
    instrument = next(i for i in instruments if i.id == "progress_child")
    first = plausible_answers(instrument.definition, random.Random(1), 0)
    instrument.definition.validate_answers(first)
    # The follow-up about the leisure job is only answered when there is one.
    assert ("pc_job_kept" in first) == (first.get("pc_leisure_job") == 1)


@pytest.mark.parametrize("today", [date(2025, 2, 28), date(2026, 7, 31), date(2028, 1, 1)])
def test_demo_shows_a_measurement_due_today_one_overdue_and_one_answered_on_any_day(app, today):
    """Dated from the day the demo is loaded, so a new user can start a measurement at once."""
    load(app, today=today)
    registry = get_registry(app)
    with get_db(app).session() as s:
        def plan(case_ref):
            family = s.scalar(select(Family).where(Family.case_ref == case_ref))
            return family, family_plan(s, registry, family, today)

        family, views = plan("DEMO-A-07")
        assert family.enrolled_on == today
        assert all(p.consents for p in family.persons)
        due_today = [v for v in views if v.wave.due_on == today]
        assert due_today and due_today[0].status == "due" and due_today[0].open_entries
        assert all(not missing_consent(entry, today) for entry in due_today[0].open_entries)
        assert not any(e.response for v in views for e in v.entries)

        family, views = plan("DEMO-A-08")
        assert [v.status for v in views][:2] == ["done", "overdue"]
        assert views[1].open_entries and all(p.consents for p in family.persons)

        family, views = plan("DEMO-A-09")
        assert [v.status for v in views][:2] == ["done", "done"]


def test_the_concerning_answers_are_the_ones_the_scoring_rates_highest():
    """The alert family's answers are chosen by the instrument's own flags, not by the core."""
    import random

    from formengine.demo import _concerning_answers

    instrument = next(i for i in formengine_plugins.programme.formengine_instruments()
                      if i.id == "progress_child")
    low = _concerning_answers(instrument, random.Random(1))
    instrument.definition.validate_answers(low)

    original = instrument.score_answers

    def alert_on_high(answers, context=None):
        result = original(answers, context)
        first = instrument.definition.items[0]
        if answers.get(first["id"]) == instrument.definition.scale_options(first)[-1]["code"]:
            result.flag("worry", "High.", level="alert")
        return result

    object.__setattr__(instrument, "score_answers", alert_on_high)
    high = _concerning_answers(instrument, random.Random(1))
    first = instrument.definition.items[0]
    assert high[first["id"]] == instrument.definition.scale_options(first)[-1]["code"] != low[first["id"]]
