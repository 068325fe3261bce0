"""Import paper and phone answers: one response per line (JSON Lines, or CSV in the long export's layout).

Every line is checked before anything is written; one bad line means nothing
is imported, and the error names each bad line and why. Families, persons
and waves are created when missing:

- a family is found by (municipality, ``family`` = case reference);
- a person by (family, ``person`` = the import's person reference, stored in
  ``Person.name``) — use the same reference for the same person every time;
- a wave by (family, number); ``"closing"`` means the family's closing wave,
  created with the next free number when missing. Number 1 is the baseline,
  other numbers are progress measurements unless ``wave_kind`` says closing
  (the long export's closing, stored under its own number);
- the person a line is ``about``, when not stored yet, from ``about_role``,
  ``about_sex`` and ``about_birth_date``, so files import in any order.

What the identifiable long export carries is kept: the response id (a UUID),
``created_at`` and the wording record (``wording``, ``wording_sha256``).

Imported responses are scored like any other. Each line passes the submit
rules of the tablet and the whole-form page (:mod:`formengine.submission`):
required questions answered or declined (``declined``; ``-8`` in CSV), declines
only where the form allows them, and answers to questions whose display
condition does not hold left out, counted in the summary and listed per
response for the audit trail. A line identical to a response
already stored (same person, subject, wave, instrument, time and answers) is
skipped, so a file can be imported again safely.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine.exports.layout import (
    ALL_META_COLUMNS,
    BAND_PREFIX,
    DECLINED,
    DECLINED_TEXT,
    FLAGS_COLUMN,
    SCORE_PREFIX,
    VALID_COLUMN,
)
from formengine.instruments import AnswerRefused, Instrument, ScoringContext, ScoringError, codec_for
from formengine.models import MODES, PERSON_ROLES, SEXES, Family, Municipality, Person, Response, Wave
from formengine.plugins import PluginRegistry
from formengine.responses import subject_of, submit_new_response
from formengine.submission import check_submission

REQUIRED = ("municipality", "family", "person", "role", "birth_date", "wave", "instrument", "answers",
            "mode", "submitted_at")
OPTIONAL = ("sex", "about", "declined", "language", "enrolled_on", "wave_kind", "about_role", "about_sex",
            "about_birth_date", "wording", "wording_sha256", "created_at", "response_id")
WAVE_KINDS_IMPORTED = ("baseline", "progress", "closing")
WORDING_PLAIN = ("project_labels", "imported")
MAX_LINE_ERRORS = 200
T = TypeVar("T")


class ImportFailed(ValueError):
    """Nothing was imported. ``problems`` holds (line number, reason) for every bad line."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        shown = problems[:MAX_LINE_ERRORS]
        lines = [f"line {n}: {reason}" for n, reason in shown]
        if len(problems) > len(shown):
            lines.append(f"... and {len(problems) - len(shown)} more")
        super().__init__(f"{len(problems)} bad line(s); nothing was imported\n" + "\n".join(lines))


@dataclass
class ImportSummary:
    responses: int = 0
    duplicates: int = 0
    municipalities: int = 0
    families: int = 0
    persons: int = 0
    waves: int = 0
    cleared: int = 0
    # response uuid -> (its municipality, the items whose answers were removed because a display
    # condition hides them), for the audit trail
    cleared_items: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    def describe(self) -> str:
        hidden = (f" Left out {self.cleared} answer(s) to questions their display condition hides."
                  if self.cleared else "")
        return (f"Imported {self.responses} response(s) ({self.duplicates} already present, skipped); "
                f"created {self.municipalities} municipalities, {self.families} families, "
                f"{self.persons} persons, {self.waves} waves.{hidden}")


@dataclass
class _Line:
    number: int
    municipality: str
    family: str
    person: str
    role: str
    birth_date: date | None
    sex: str | None
    wave: int | str
    instrument: Instrument
    answers: dict[str, Any]
    declined: list[str]
    mode: str
    submitted_at: datetime
    about: str | None = None
    language: str = "da"
    enrolled_on: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    wave_kind: str | None = None
    about_role: str | None = None
    about_sex: str | None = None
    about_birth_date: date | None = None
    wording: dict[str, Any] | None = None
    created_at: datetime | None = None
    uuid: str | None = None


# -- reading ---------------------------------------------------------------
def read_jsonl(text: str) -> list[tuple[int, Any]]:
    """(line number, parsed object or a ValueError) for every non-blank line."""
    out: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except (ValueError, RecursionError) as exc:
            out.append((number, ValueError(f"not valid JSON: {str(exc)[:200]}")))
    return out


def read_csv(text: str, registry: PluginRegistry) -> list[tuple[int, Any]]:
    """Rows of a CSV in the long export's layout, turned into import records.

    The delimiter (``;`` or ``,``) is detected from the header. Item columns
    hold codes; empty means not answered and the declined code means the
    respondent chose not to answer; other cells are read by the answer codec
    (``ja``/``nej`` for yes/no, a decimal comma, ...). Score, band and other
    export-only columns are ignored (scores are recomputed).
    """
    text = text.lstrip("\ufeff")
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    out: list[tuple[int, Any]] = []
    for row in reader:
        number = reader.line_num
        try:
            out.append((number, _csv_record(row, registry)))
        except ValueError as exc:
            out.append((number, exc))
    return out


def _group_cell(definition: Any, column: str) -> tuple[dict[str, Any], int, dict[str, Any] | None] | None:
    """The repeatable group, entry number (from 1) and field a long-export column holds (field None: count).

    The columns are ``<group>_n`` and ``<group>_<number>_<field>`` (see
    :func:`formengine.exports.layout.group_entry_column`).
    """
    for item in definition.items:
        if item.get("type") != "group" or not column.startswith(item["id"] + "_"):
            continue
        rest = column[len(item["id"]) + 1:]
        if rest == "n":
            return item, 0, None
        number, _, field_id = rest.partition("_")
        sub = next((s for s in item["items"] if s["id"] == field_id), None)
        if number.isdigit() and 0 < int(number) <= 1000 and sub is not None:
            return item, int(number), sub
    return None


def _csv_record(row: Mapping[str, str | None], registry: PluginRegistry) -> dict[str, Any]:
    if None in row:
        raise ValueError("more fields than the header has")
    instrument = registry.get((row.get("instrument") or "").strip())
    if instrument is None:
        raise ValueError(f"unknown instrument {row.get('instrument')!r}")
    definition = instrument.definition
    codec = codec_for(definition)
    record: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    declined: list[str] = []
    unknown = []
    refused: list[str] = []
    groups: dict[str, tuple[int | None, dict[int, dict[str, Any]]]] = {}
    for column, raw in row.items():
        value = (raw or "").strip()
        cell = None if column in definition.items_by_id else _group_cell(definition, column)
        if cell is not None:  # one field of one entry of a repeatable group (or its count)
            group, number, sub = cell
            count, entries = groups.setdefault(group["id"], (None, {}))
            if value == "":
                continue
            if sub is None:
                if not value.isdigit():
                    refused.append(f"{column}: {value[:20]!r} is not a number of entries")
                    continue
                groups[group["id"]] = (int(value), entries)
                continue
            try:
                parsed = codec.parse_text(sub, value)
            except AnswerRefused as exc:
                refused.extend(f"{group['id']}.{number - 1}.{p}" for p in exc.problems)
                continue
            if parsed is not None:
                entries.setdefault(number, {})[sub["id"]] = parsed
            continue
        if column in definition.items_by_id:
            if value == "":
                continue
            if value in (str(DECLINED), DECLINED_TEXT):
                declined.append(column)
                continue
            try:
                parsed = codec.parse_text(definition.items_by_id[column], value)
            except AnswerRefused as exc:
                refused.extend(exc.problems)
                continue
            if parsed is not None:
                answers[column] = parsed
        elif column in ALL_META_COLUMNS:
            if value != "":
                record[column] = value
            elif column in ("birth_date", "about_birth_date"):
                record[column] = None  # an unknown birth date is exported as an empty cell
        elif column.startswith((SCORE_PREFIX, BAND_PREFIX)) or column in (VALID_COLUMN, FLAGS_COLUMN):
            continue
        else:
            unknown.append(column)
    if unknown:
        raise ValueError(f"unknown column(s) for {instrument.id}: {', '.join(sorted(unknown))}")
    if refused:
        raise ValueError("; ".join(f"{instrument.id}: {p}" for p in refused))
    for group_id, (count, entries) in groups.items():
        if count is None and not entries:
            continue  # not answered
        size = max([count or 0, *entries])
        answers[group_id] = [entries.get(number, {}) for number in range(1, size + 1)]
    if "wave" in record:
        try:
            record["wave"] = int(record["wave"])
        except ValueError:
            raise ValueError(f"wave {record['wave']!r} is not a number") from None
    elif record.get("wave_kind") == "closing":
        record["wave"] = "closing"
    # the subject's details only matter when the line is about someone else
    if not record.get("about") or record.get("about") == record.get("person"):
        for key in ("about", "about_role", "about_sex", "about_birth_date"):
            record.pop(key, None)
    for key in ("instrument_version", "scoring_version", "age", "about_age"):
        record.pop(key, None)
    record["answers"] = answers
    if declined:
        record["declined"] = declined
    return record


# -- checking --------------------------------------------------------------
def _parse_date(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a date like 2024-03-01")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a date like 2024-03-01") from None


def _wording(source: Any, sha256: Any, language: Any) -> dict[str, Any] | None:
    """The wording record of a response from the long export's ``wording`` and ``wording_sha256``."""
    if source is None:
        return None
    if not isinstance(source, str) or not source.strip():
        raise ValueError("wording must be a text")
    if sha256 is None:
        if source in WORDING_PLAIN:
            return {"kind": source}
        raise ValueError(f"wording {source!r} names a wording pack without its wording_sha256")
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("wording_sha256 must be 64 hexadecimal digits")
    return {"kind": "wording_pack", "source": source, "sha256": sha256, "lang": language}


def _uuid(value: Any) -> str | None:
    """The response id of an identifiable export (a UUID), kept on import; anything else is ignored."""
    import uuid

    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _parse_moment(value: Any, name: str = "submitted_at") -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a date or a date and time with its UTC offset")
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(12, 0), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO date or date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no UTC offset (add Z or +01:00)")
    return moment.astimezone(UTC)


def _text(record: Mapping[str, Any], name: str, limit: int) -> str:
    value = record.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty text")
    if len(value.strip()) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return value.strip()


def _or_problem(problems: list[str], parse: Callable[..., T], *args: Any) -> T | None:
    """``parse(*args)``; None when it raises ValueError, whose message is added to ``problems``."""
    try:
        return parse(*args)
    except ValueError as exc:
        problems.append(str(exc))
        return None


def _optional(record: Mapping[str, Any], name: str, parse: Callable[[Any, str], T],
              problems: list[str]) -> T | None:
    """The field ``name`` read by ``parse(value, name)``: None when absent or null, or when refused
    (the reason is added to ``problems``)."""
    if record.get(name) is None:
        return None
    return _or_problem(problems, parse, record[name], name)


def _check(number: int, record: Any, registry: PluginRegistry) -> _Line:
    if isinstance(record, Exception):
        raise record
    if not isinstance(record, dict):
        raise ValueError("a line must be a JSON object")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    unknown = sorted(set(record) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    problems: list[str] = []
    instrument = registry.get(str(record["instrument"]))
    if instrument is None:
        raise ValueError(f"unknown instrument {record['instrument']!r}")
    if instrument.definition.subject != "person":
        raise ValueError(f"{instrument.id} is answered for a municipality, not a person; "
                         "it cannot be imported per person")
    role = record["role"]
    if role not in PERSON_ROLES:
        problems.append(f"role {role!r} is not one of {', '.join(PERSON_ROLES)}")
    sex = record.get("sex")
    if sex is not None and sex not in SEXES:
        problems.append(f"sex {sex!r} is not one of {', '.join(SEXES)}")
    mode = record["mode"]
    if mode not in MODES:
        problems.append(f"mode {mode!r} is not one of {', '.join(MODES)}")
    wave = record["wave"]
    if wave != "closing" and not (isinstance(wave, int) and not isinstance(wave, bool) and wave >= 1):
        problems.append(f"wave {wave!r} must be a measurement number from 1, or \"closing\"")
    wave_kind = record.get("wave_kind")
    if wave_kind is not None and wave_kind not in WAVE_KINDS_IMPORTED:
        problems.append(f"wave_kind {wave_kind!r} is not one of {', '.join(WAVE_KINDS_IMPORTED)}")
    if wave == "closing":
        wave_kind = "closing"
    about_role, about_sex = record.get("about_role"), record.get("about_sex")
    if about_role is not None and about_role not in PERSON_ROLES:
        problems.append(f"about_role {about_role!r} is not one of {', '.join(PERSON_ROLES)}")
    if about_sex is not None and about_sex not in SEXES:
        problems.append(f"about_sex {about_sex!r} is not one of {', '.join(SEXES)}")
    about_birth_date = _optional(record, "about_birth_date", _parse_date, problems)
    created_at = _optional(record, "created_at", _parse_moment, problems)
    wording = _or_problem(problems, _wording, record.get("wording"), record.get("wording_sha256"),
                          record.get("language", "da"))
    uuid = _uuid(record.get("response_id"))
    language = record.get("language", "da")
    if language not in ("da", "en"):
        problems.append(f"language {language!r} is not da or en")
    birth_date = _optional(record, "birth_date", _parse_date, problems)
    enrolled_on = _optional(record, "enrolled_on", _parse_date, problems)
    submitted_at = _or_problem(problems, _parse_moment, record["submitted_at"])
    texts = {}
    for name, limit in (("municipality", 120), ("family", 64), ("person", 120)):
        text = _or_problem(problems, _text, record, name, limit)
        if text is not None:
            texts[name] = text
    about = None if record.get("about") is None else _or_problem(problems, _text, record, "about", 120)
    answers = record["answers"]
    answer_problems = instrument.definition.answer_problems(answers)
    problems.extend(f"{instrument.id}: {p}" for p in answer_problems)
    if not answer_problems:
        answers = codec_for(instrument.definition).read_json(answers, complete=True)
    declined = record.get("declined") or []
    if not isinstance(declined, list) or not all(isinstance(d, str) for d in declined):
        problems.append("declined must be a list of item ids")
        declined = []
    else:
        both = [d for d in declined if isinstance(answers, dict) and d in answers]
        if both:
            problems.append(f"item(s) both answered and declined: {', '.join(both)}")
    checked = None
    if not answer_problems:
        # The submit rules of the tablet and the whole-form page (formengine.submission): declines only
        # where the form allows them, answers to hidden questions removed, required questions answered
        # or declined.
        try:
            checked = check_submission(instrument.definition, answers, declined)
        except AnswerRefused as exc:
            problems.extend(f"{instrument.id}: declined: {p.message('en')}" for p in exc.refusals)
        else:
            if checked.missing:
                problems.append(f"{instrument.id}: required item(s) neither answered nor declined: "
                                f"{', '.join(checked.missing)}")
    if problems or submitted_at is None or checked is None:
        raise ValueError("; ".join(problems))
    return _Line(number=number, municipality=texts["municipality"], family=texts["family"],
                 person=texts["person"], role=role, birth_date=birth_date, sex=sex, wave=wave,
                 instrument=instrument, answers=dict(checked.answers), declined=list(checked.declined),
                 mode=mode, submitted_at=submitted_at, about=about, language=language,
                 enrolled_on=enrolled_on, extra={"cleared": checked.cleared} if checked.cleared else {},
                 wave_kind=wave_kind, about_role=about_role, about_sex=about_sex,
                 about_birth_date=about_birth_date, wording=wording, created_at=created_at, uuid=uuid)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# -- importing -------------------------------------------------------------
def import_responses(
    session: Session,
    registry: PluginRegistry,
    records: Iterable[tuple[int, Any]],
    *,
    create_municipalities: bool = False,
    entered_by: int | None = None,
    context_for: Callable[[Instrument, int | None], ScoringContext] | None = None,
) -> ImportSummary:
    """Check every record, then create what is missing and store the scored responses.

    Raises :class:`ImportFailed` (having written nothing) when any line is bad.
    ``context_for(instrument, municipality_id)`` gives the scoring context (the
    municipality's plugin settings). The caller commits.
    """
    problems: list[tuple[int, str]] = []
    lines: list[_Line] = []
    for number, record in records:
        try:
            lines.append(_check(number, record, registry))
        except ValueError as exc:
            problems.append((number, str(exc)))
    if not lines and not problems:
        raise ImportFailed([(0, "the file has no responses")])

    municipalities = {m.name: m for m in session.scalars(
        select(Municipality).where(Municipality.name.in_({ln.municipality for ln in lines})))}
    unknown = {ln.municipality for ln in lines} - set(municipalities)
    if unknown and not create_municipalities:
        for ln in lines:
            if ln.municipality in unknown:
                problems.append((ln.number, f"unknown municipality {ln.municipality!r} "
                                            "(use --create-municipalities to create it)"))
    problems.extend(_consistency_problems(session, lines, municipalities))
    scored: dict[int, Any] = {}
    for ln in lines:
        try:
            context = context_for(ln.instrument, None) if context_for else None  # refusals only
            scored[ln.number] = ln.instrument.score_guarded(ln.answers, context)
        except (ValueError, ScoringError) as exc:
            problems.append((ln.number, f"{ln.instrument.id}: cannot be scored: {exc}"))
    if problems:
        raise ImportFailed(sorted(problems))
    return _write(session, lines, municipalities, unknown, entered_by, context_for)


def _consistency_problems(session: Session, lines: list[_Line],
                          municipalities: Mapping[str, Municipality]) -> list[tuple[int, str]]:
    """The same person must keep one role and birth date, in the file and against the database."""
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[str, str, str], _Line] = {}
    for ln in lines:
        key = (ln.municipality, ln.family, ln.person)
        first = seen.setdefault(key, ln)
        if first is not ln:
            if first.role != ln.role:
                problems.append((ln.number, f"person {ln.person!r} has role {first.role!r} on line "
                                            f"{first.number} but {ln.role!r} here"))
            if first.birth_date != ln.birth_date:
                problems.append((ln.number, f"person {ln.person!r} has another birth_date on line "
                                            f"{first.number}"))
    for (municipality, family_ref, person_ref), ln in seen.items():
        m = municipalities.get(municipality)
        if m is None:
            continue
        stored = session.scalar(
            select(Person).join(Family, Family.id == Person.family_id)
            .where(Family.municipality_id == m.id, Family.case_ref == family_ref, Person.name == person_ref)
        )
        if stored is None:
            continue
        if stored.role != ln.role:
            problems.append((ln.number, f"person {person_ref!r} is stored with role {stored.role!r}"))
        if stored.birth_date is not None and ln.birth_date is not None and stored.birth_date != ln.birth_date:
            problems.append((ln.number, f"person {person_ref!r} is stored with another birth_date"))
    for ln in lines:
        if ln.about is None:
            continue
        in_file = (ln.municipality, ln.family, ln.about) in seen
        m = municipalities.get(ln.municipality)
        in_db = m is not None and session.scalar(
            select(Person.id).join(Family, Family.id == Person.family_id)
            .where(Family.municipality_id == m.id, Family.case_ref == ln.family, Person.name == ln.about)
        ) is not None
        if not (in_file or in_db or ln.about_role is not None):
            problems.append((ln.number, f"about {ln.about!r} is not a person of family {ln.family!r}"))
    return problems


def _write(session: Session, lines: list[_Line], municipalities: dict[str, Municipality],
           to_create: set[str], entered_by: int | None,
           context_for: Callable[[Instrument, int | None], ScoringContext] | None) -> ImportSummary:
    summary = ImportSummary()
    for name in sorted(to_create):
        municipality = Municipality(name=name, pseudonym_key=secrets.token_hex(32))
        session.add(municipality)
        municipalities[name] = municipality
        summary.municipalities += 1
    session.flush()

    families: dict[tuple[int, str], Family] = {}
    persons: dict[tuple[int, str], Person] = {}
    # numbered waves first, so "closing" takes the number after the last one
    ordered = sorted(lines, key=lambda ln: (ln.wave == "closing", ln.number))
    earliest: dict[tuple[str, str], date] = {}
    for ln in lines:
        key = (ln.municipality, ln.family)
        day = ln.enrolled_on or ln.submitted_at.date()
        earliest[key] = min(day, earliest.get(key, day))

    for ln in ordered:
        municipality = municipalities[ln.municipality]
        family = _family(session, families, municipality, ln, earliest[(ln.municipality, ln.family)], summary)
        person = _person(session, persons, family, ln.person, ln, summary)
        about = _about(session, persons, family, ln, summary) if ln.about else None
        wave = _wave(session, family, ln, summary)
        submitted = ln.submitted_at
        duplicate = session.scalar(select(Response.id).where(
            Response.person_id == person.id,
            Response.about_person_id == subject_of(person.id, about.id if about else None),
            Response.wave_id == wave.id, Response.instrument_id == ln.instrument.id,
            Response.status == "submitted", Response.submitted_at == submitted,
        ))
        if duplicate is not None:
            stored = session.get(Response, duplicate)
            if stored is not None and stored.answers == ln.answers:
                summary.duplicates += 1
                continue
        response = submit_new_response(
            session, ln.instrument, ln.answers,
            municipality_id=municipality.id, entered_by=entered_by,
            wording=ln.wording or {"kind": "imported"}, language=ln.language, mode=ln.mode,
            person_id=person.id, about_person_id=about.id if about else None, wave_id=wave.id,
            declined=ln.declined,
            context=context_for(ln.instrument, municipality.id) if context_for else None,
        )
        response.created_at = ln.created_at or submitted
        response.updated_at = submitted
        if ln.uuid and session.scalar(select(Response.id).where(Response.uuid == ln.uuid)) is None:
            response.uuid = ln.uuid
        response.submitted_at = submitted
        session.flush()
        summary.responses += 1
        if ln.extra.get("cleared"):
            summary.cleared += len(ln.extra["cleared"])
            summary.cleared_items[response.uuid] = (municipality.id, list(ln.extra["cleared"]))
    return summary


def _family(session: Session, cache: dict[tuple[int, str], Family], municipality: Municipality,
            ln: _Line, enrolled: date, summary: ImportSummary) -> Family:
    key = (municipality.id, ln.family)
    if key in cache:
        return cache[key]
    family = session.scalar(select(Family).where(Family.municipality_id == municipality.id,
                                                 Family.case_ref == ln.family))
    if family is None:
        family = Family(municipality_id=municipality.id, case_ref=ln.family, enrolled_on=enrolled)
        session.add(family)
        session.flush()
        summary.families += 1
    cache[key] = family
    return family


def _person(session: Session, cache: dict[tuple[int, str], Person], family: Family, ref: str,
            ln: _Line | None, summary: ImportSummary) -> Person:
    key = (family.id, ref)
    person = cache.get(key) or session.scalar(
        select(Person).where(Person.family_id == family.id, Person.name == ref))
    if person is None:
        # A subject only named in "about" gets its details from its own lines if any come later.
        person = Person(family_id=family.id, municipality_id=family.municipality_id, name=ref,
                        role=ln.role if ln else "child", birth_date=ln.birth_date if ln else None,
                        sex=(ln.sex or "not_stated") if ln else "not_stated")
        session.add(person)
        session.flush()
        summary.persons += 1
    elif ln is not None:
        if person.birth_date is None and ln.birth_date is not None:
            person.birth_date = ln.birth_date
        if ln.sex is not None and person.sex == "not_stated":
            person.sex = ln.sex
        if person.role != ln.role:
            person.role = ln.role  # only reachable for a person first created from an "about" reference
    cache[key] = person
    return person


def _about(session: Session, cache: dict[tuple[int, str], Person], family: Family, ln: _Line,
           summary: ImportSummary) -> Person:
    """The person a line is about: found, or created from the line's ``about_*`` details."""
    assert ln.about is not None
    key = (family.id, ln.about)
    person = cache.get(key) or session.scalar(
        select(Person).where(Person.family_id == family.id, Person.name == ln.about))
    if person is None:
        person = Person(family_id=family.id, municipality_id=family.municipality_id, name=ln.about,
                        role=ln.about_role or "child", birth_date=ln.about_birth_date,
                        sex=ln.about_sex or "not_stated")
        session.add(person)
        session.flush()
        summary.persons += 1
    else:
        if person.birth_date is None and ln.about_birth_date is not None:
            person.birth_date = ln.about_birth_date
        if ln.about_sex is not None and person.sex == "not_stated":
            person.sex = ln.about_sex
    cache[key] = person
    return person


def _wave(session: Session, family: Family, ln: _Line, summary: ImportSummary) -> Wave:
    waves = list(session.scalars(select(Wave).where(Wave.family_id == family.id)))
    if ln.wave == "closing":
        found = next((w for w in waves if w.kind == "closing"), None)
        if found is not None:
            return found
        number = max((w.number for w in waves), default=0) + 1
        wave = Wave(municipality_id=family.municipality_id, family_id=family.id, kind="closing",
                    number=number, due_on=ln.submitted_at.date())
    else:
        found = next((w for w in waves if w.number == ln.wave), None)
        if found is not None:
            return found
        number = int(ln.wave)
        kind = ln.wave_kind or ("baseline" if number == 1 else "progress")
        wave = Wave(municipality_id=family.municipality_id, family_id=family.id, kind=kind, number=number,
                    due_on=ln.submitted_at.date() if kind == "closing" else
                    _add_months(family.enrolled_on, 6 * (number - 1)))
    session.add(wave)
    session.flush()
    summary.waves += 1
    return wave
