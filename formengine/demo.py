"""Demo data: two municipalities, their demo logins (all with password ``demo``) and, on request,
families with persons, consent and several answered measurements so the pages and reports have data.

For demonstration only: the names are invented and the answers are generated.
"""

from __future__ import annotations

import logging
import random
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine import clock
from formengine.models import (
    ROLE_MUNICIPALITY_ADMIN,
    ROLE_SYSADMIN,
    ROLE_TEAM_MEMBER,
    Consent,
    Family,
    Municipality,
    Person,
    User,
)
from formengine.plugins import PluginRegistry
from formengine.security import hash_secret

DEMO_PASSWORD = "demo"
MUNICIPALITIES = ("Demo Kommune A", "Demo Kommune B")
USERS = (
    ("sysadmin", "System administrator", ROLE_SYSADMIN, None),
    ("admin-a", "Administrator A", ROLE_MUNICIPALITY_ADMIN, "Demo Kommune A"),
    ("team-a", "Team A", ROLE_TEAM_MEMBER, "Demo Kommune A"),
    ("admin-b", "Administrator B", ROLE_MUNICIPALITY_ADMIN, "Demo Kommune B"),
    ("team-b", "Team B", ROLE_TEAM_MEMBER, "Demo Kommune B"),
)


def load_demo(session: Session, registry: PluginRegistry, *, cases: bool = False,
              today: date | None = None) -> str:
    """Create what is missing; running it twice changes nothing.

    Every installed instrument is enabled in both municipalities. With ``cases``
    they also get the default plan, about ten families (DEMO-A-01…, DEMO-B-01…)
    with consent, and answered measurements up to ``today``.
    """
    municipalities = {}
    for name in MUNICIPALITIES:
        municipality = session.scalar(select(Municipality).where(Municipality.name == name))
        if municipality is None:
            municipality = Municipality(name=name, pseudonym_key=secrets.token_hex(32))
            session.add(municipality)
            session.flush()
        municipalities[name] = municipality
    password_hash = hash_secret(DEMO_PASSWORD)
    for username, display, role, municipality_name in USERS:
        if session.scalar(select(User).where(User.username == username)) is None:
            session.add(User(
                username=username,
                display_name=display,
                password_hash=password_hash,
                pin_hash=hash_secret("1234"),
                role=role,
                municipality_id=municipalities[municipality_name].id if municipality_name else None,
            ))
    session.flush()
    # Every installed instrument is enabled in the demo municipalities, so any can be practised.
    from formengine import catalogue

    for municipality in municipalities.values():
        team = session.scalar(select(User).where(User.municipality_id == municipality.id,
                                                 User.role == ROLE_TEAM_MEMBER).order_by(User.id))
        enabled = catalogue.enabled_ids(session, municipality.id)
        for instrument in registry.sorted_instruments():
            if instrument.id not in enabled:
                catalogue.set_enabled(session, registry, municipality, instrument.id, True, user=team)
    summary = ""
    if cases:
        summary = " " + _load_cases(session, registry, municipalities, today or clock.today())
    return (
        "Demo data loaded: municipalities " + ", ".join(MUNICIPALITIES)
        + "; logins " + ", ".join(u[0] for u in USERS) + f" (password '{DEMO_PASSWORD}'; demonstration only)."
        + summary
    )


# -- families, persons, consent, answered waves --------------------------------------

log = logging.getLogger(__name__)

# (case suffix, months since enrolment, closed months ago or None,
#  persons as (role, invented name, age in years today, sex, consent recorded))
FAMILIES: dict[str, list[tuple[str, int, int | None, list[tuple[str, str, int, str, bool]]]]] = {
    "Demo Kommune A": [
        ("01", 19, None, [("parent", "Mona", 41, "female", True), ("child", "Ali", 14, "male", True),
                          ("child", "Sara", 9, "female", True)]),
        ("02", 13, None, [("parent", "Jens", 45, "male", True), ("parent", "Lise", 43, "female", True),
                          ("youth", "Mikkel", 17, "male", True)]),
        ("03", 7, None, [("parent", "Fatima", 38, "female", True), ("child", "Omar", 12, "male", True),
                         ("child", "Noor", 6, "female", True)]),
        ("04", 1, None, [("parent", "Hanne", 36, "female", True), ("child", "Emil", 11, "male", True)]),
        ("05", 20, 1, [("parent", "Karim", 47, "male", True), ("youth", "Yusuf", 18, "male", True)]),
        ("06", 0, None, [("parent", "Birgit", 39, "female", False), ("child", "Freja", 13, "female", False)]),
    ],
    "Demo Kommune B": [
        ("01", 12, None, [("parent", "Pia", 44, "female", True), ("youth", "Ahmed", 16, "male", True),
                          ("child", "Lina", 10, "female", True)]),
        ("02", 6, None, [("parent", "Tom", 50, "male", True), ("youth", "Jonas", 19, "male", True)]),
        ("03", 3, None, [("parent", "Amira", 35, "female", True), ("child", "Zainab", 8, "female", True)]),
        ("04", 9, None, [("parent", "Ole", 42, "male", True), ("child", "Kasper", 15, "male", True)]),
    ],
}
# Families that show the product on any day the demo is loaded, dated from that day:
# "due_today": enrolled today with consent, so its baseline is due today and nothing is answered
#   (a new user starts the stepper from the due list at once);
# "overdue": its first progress measurement fell due two weeks before the tolerance window closed,
#   so it is overdue, while the baseline was answered;
# "alert": its latest measurement is answered with the most concerning answers the instruments'
#   own scoring finds (see _concerning_answers), so the family shows what an alert looks like.
SHOWCASE: dict[str, list[tuple[str, str, int, str, bool]]] = {
    "due_today": [("parent", "Camilla", 37, "female", True), ("youth", "Noah", 15, "male", True)],
    "overdue": [("parent", "Rasmus", 40, "male", True), ("child", "Ida", 10, "female", True)],
    "alert": [("parent", "Sofie", 33, "female", True), ("child", "Lukas", 12, "male", True)],
}
SHOWCASE_CASES = {"Demo Kommune A": {"07": "due_today", "08": "overdue", "09": "alert"}}
MODES_WEIGHTED = ("in_person",) * 6 + ("phone", "paper")


def _load_cases(session: Session, registry: PluginRegistry, municipalities: dict[str, Municipality],
                today: date) -> str:
    from formengine import catalogue

    made = 0
    answered = 0
    for name, families in FAMILIES.items():
        municipality = municipalities[name]
        team = session.scalar(select(User).where(User.municipality_id == municipality.id,
                                                 User.role == ROLE_TEAM_MEMBER).order_by(User.id))
        if not (municipality.settings or {}).get("rounds_start"):
            municipality.settings = {**(municipality.settings or {}),
                                     "rounds_start": _months_before(today, 18).isoformat()}
        catalogue.ensure_plan(session, registry, municipality)
        letter = name[-1]
        schedule = catalogue.schedule_for(municipality)
        showcase = SHOWCASE_CASES.get(name, {})
        everyone = [*families, *((suffix, 0, None, SHOWCASE[kind]) for suffix, kind in showcase.items())]
        for suffix, months, closed_ago, persons in everyone:
            case_ref = f"DEMO-{letter}-{suffix}"
            if session.scalar(select(Family.id).where(Family.municipality_id == municipality.id,
                                                      Family.case_ref == case_ref)) is not None:
                continue
            rng = random.Random(case_ref)
            kind = showcase.get(suffix)
            enrolled = _showcase_enrolment(kind, today, schedule) if kind else \
                _months_before(today, months) - timedelta(days=rng.randint(0, 20))
            family = Family(municipality_id=municipality.id, case_ref=case_ref, enrolled_on=enrolled)
            session.add(family)
            session.flush()
            for role, first_name, age, sex, consented in persons:
                born = _months_before(today, 12 * age) - timedelta(days=rng.randint(1, 300))
                person = Person(family_id=family.id, municipality_id=municipality.id, role=role,
                                name=first_name, birth_date=born, sex=sex)
                session.add(person)
                session.flush()
                if consented:
                    session.add(Consent(
                        person_id=person.id, municipality_id=municipality.id,
                        given_by=first_name if role != "child" else "Forælder med forældremyndighed",
                        given_on=enrolled, scope="Målinger i familieindsatsen og anonymiseret evaluering.",
                        recorded_by=team.id if team else None))
            session.flush()
            session.refresh(family)
            if closed_ago is not None:
                from formengine.measurement import close_family

                close_family(session, family, _months_before(today, closed_ago), close_persons=True,
                             today=today)
            if kind == "due_today":
                pass  # nothing answered: the baseline waits on the due list
            elif kind == "overdue":
                # Only the baseline: the progress measurement after it stays overdue.
                answered += _answer_waves(session, registry, municipality, family, team, today, rng,
                                          before=enrolled + timedelta(days=1))
            else:
                answered += _answer_waves(session, registry, municipality, family, team, today, rng,
                                          concerning=kind == "alert")
            made += 1
        answered += _answer_rounds(session, registry, municipality, team, today)
    session.flush()
    return f"{made} demo families, {answered} answered forms."


def _months_before(day: date, months: int) -> date:
    from formengine.plan import add_months

    return add_months(day, -months)


def _showcase_enrolment(kind: str, today: date, schedule: Any) -> date:
    """The enrolment date that puts a showcase family where its name says, whatever today is."""
    if kind == "due_today":
        return today
    if kind == "overdue":
        # The first progress wave is due interval months after enrolment; its window closed two weeks ago.
        due = today - schedule.tolerance - timedelta(weeks=2)
        return _months_before(due, schedule.interval_months)
    # "alert": half a year in, so the baseline and the first progress measurement are answered.
    return _months_before(today, schedule.interval_months) - timedelta(days=schedule.tolerance.days + 7)


def _answer_waves(session: Session, registry: PluginRegistry, municipality: Municipality, family: Family,
                  team: User | None, today: date, rng: random.Random, *, before: date | None = None,
                  concerning: bool = False) -> int:
    """Answer the waves whose window has passed (and half of the current one) with plausible answers.

    ``before`` leaves waves due on or after that day unanswered; ``concerning`` answers the
    latest answered wave with the most concerning answers (see :func:`_concerning_answers`).
    """
    from formengine import catalogue
    from formengine.measurement import family_plan, has_consent
    from formengine.plan import STATUS_DUE

    count = 0
    views = family_plan(session, registry, family, today)
    answerable = [i for i, v in enumerate(views)
                  if v.wave.due_on <= today and (v.status == STATUS_DUE or v.window[1] < today)
                  and (before is None or v.wave.due_on < before)]
    latest = answerable[-1] if concerning and answerable else None
    for index, view in enumerate(views):
        current = view.status == STATUS_DUE
        if view.wave.due_on > today or (not current and view.window[1] >= today):
            continue
        if before is not None and view.wave.due_on >= before:
            continue
        if current and rng.random() < 0.5 and not concerning:
            continue
        schedule = catalogue.schedule_for(municipality)
        day = min(today, view.wave.due_on + timedelta(days=rng.randint(0, schedule.tolerance_weeks * 7 // 2)))
        for entry in view.entries:
            if entry.response is not None or entry.person is None or entry.about is None:
                continue
            if not has_consent(entry.person, day) or (current and not concerning and rng.random() < 0.4):
                continue
            if _answer(session, registry, municipality.id, entry.instrument_id, view.wave.id, day, team, rng,
                       progress=index, person_id=entry.person.id, about_id=entry.about.id,
                       concerning=index == latest):
                count += 1
    return count


def _answer_rounds(session: Session, registry: PluginRegistry, municipality: Municipality,
                   team: User | None, today: date) -> int:
    """The municipality's own past rounds (e.g. fidelity), answered."""
    from formengine.measurement import municipality_plan
    from formengine.plan import STATUS_UPCOMING

    rng = random.Random(municipality.name)
    count = 0
    for index, view in enumerate(municipality_plan(session, registry, municipality, today)):
        if view.status == STATUS_UPCOMING or view.wave.due_on > today:
            continue
        for entry in view.entries:
            if entry.response is None and _answer(session, registry, municipality.id, entry.instrument_id,
                                                  view.wave.id, view.wave.due_on, team, rng, progress=index):
                count += 1
    return count


def _answer(session: Session, registry: PluginRegistry, municipality_id: int, instrument_id: str,
            wave_id: int,
            day: date, team: User | None, rng: random.Random, *, progress: int,
            person_id: int | None = None, about_id: int | None = None, concerning: bool = False) -> bool:
    """Generate and submit one answer set, scored by the instrument's own scoring; skip what it refuses."""
    from formengine.responses import submit_new_response

    instrument = registry.get(instrument_id)
    if instrument is None:
        return False
    answers = (_concerning_answers(instrument, rng) if concerning
               else plausible_answers(instrument.definition, rng, progress))
    try:
        with session.begin_nested():
            response = submit_new_response(
                session, instrument, answers, municipality_id=municipality_id,
                entered_by=team.id if team else None, wording={"kind": "project_labels"},
                mode=rng.choice(MODES_WEIGHTED), person_id=person_id, about_person_id=about_id,
                wave_id=wave_id)
            at = datetime.combine(day, time(10, rng.randint(0, 59)), tzinfo=UTC)
            response.created_at = response.updated_at = response.submitted_at = at
            session.flush()
    except Exception as exc:  # noqa: BLE001 - a plugin refusing generated answers must not stop the demo
        log.warning("demo: %s answers skipped: %s", instrument_id, type(exc).__name__)
        return False
    return True


def _concerning_answers(instrument: Any, rng: random.Random) -> dict[str, Any]:
    """The answer set, of a few drawn at either end of every scale, that the instrument's own scoring
    finds most concerning: the one whose flags carry the highest level (an ``alert`` first).

    The core knows no instrument, so it asks the scoring rather than guessing which end of a scale
    is the worrying one. When no candidate raises more than ``info``, the low end is kept.
    """
    from formengine.instruments.scoring import FLAG_LEVELS

    candidates = [plausible_answers(instrument.definition, rng, 0, centre=centre)
                  for centre in (0.0, 1.0, 0.05, 0.95)]

    def level(answers: dict[str, Any]) -> int:
        try:
            result = instrument.score_answers(answers, None)
        except Exception:  # noqa: BLE001 - plugin code; a refused answer set is simply not the one shown
            return -1
        return max((FLAG_LEVELS.index(flag.level) for flag in result.flags), default=0)

    return max(candidates, key=level)  # max keeps the first (the low end) when nothing is levelled


def plausible_answers(definition: Any, rng: random.Random, progress: int = 0,
                      centre: float | None = None) -> dict[str, Any]:
    """Answers to every shown item, drifting a little along each scale with each later wave.

    Choice items pick a position near a per-form baseline that moves by about
    a tenth of the scale per wave, so progress reports show change. ``centre``
    (0 to 1) puts every answer at that point of its scale instead.
    """
    answers: dict[str, Any] = {}
    base = rng.uniform(0.2, 0.6)
    for item in definition.items:
        if not definition.is_shown(item, answers):
            continue
        kind = item.get("type", "choice")
        if kind == "choice":
            options = definition.scale_options(item)
            position = (centre if centre is not None
                        else base + 0.08 * progress + rng.uniform(-0.2, 0.2))
            position = min(0.999, max(0.0, position))
            answers[item["id"]] = options[int(position * len(options))]["code"]
        elif kind == "boolean":
            answers[item["id"]] = rng.random() < 0.3
        elif kind == "number" and definition.is_required(item, answers):
            low, high = item.get("min", 0), item.get("max", 10)
            answers[item["id"]] = rng.randint(int(low), int(high)) if item.get("integer") else float(low)
        elif kind == "text" and definition.is_required(item, answers):
            answers[item["id"]] = "-"
    return answers
