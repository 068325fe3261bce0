"""The export data set: its columns (the codebook) and its rows, streamed from the database.

Two layouts:

- long: one row per submitted response of one instrument, with ids, wave,
  versions, mode, dates, every item's code, every score and band;
- wide: one row per respondent and subject (the person answered about), with
  ``<instrument>_<...>_w<k>`` for each measurement number k (the closing
  measurement included, under its number), as
  :mod:`formengine.reports.measurements` defines measurement k for the reports.

Rows are produced by generators over ``yield_per`` queries, so an export of
any size runs in constant memory. Person, family and response ids are keyed
pseudonyms unless an identifiable export is asked for; CPR numbers are never
exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, Text, cast, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from formengine.current_score import _version_key, current_rows, current_score_id
from formengine.exports.layout import (
    DECLINED,
    DECLINED_TEXT,
    FLAGS_COLUMN,
    SCORE_PREFIX,
    VALID_COLUMN,
    band_column,
    group_count_column,
    group_entry_column,
    score_column,
)
from formengine.exports.pseudonyms import Pseudonymiser
from formengine.instruments import Definition, Instrument
from formengine.models import (
    MODES,
    PERSON_ROLES,
    SEXES,
    WAVE_KINDS,
    Family,
    Municipality,
    Person,
    Response,
    Score,
    Wave,
)
from formengine.plugins import PluginRegistry
from formengine.practice import not_practice
from formengine.reports.measurements import Observation, age_on, measured_on, observation, pick_wave

BATCH = 2000


def _t(da: str, en: str) -> dict[str, str]:
    return {"da": da, "en": en}


ROLE_LABELS = {"child": _t("Barn", "Child"), "youth": _t("Ung", "Young person"),
               "parent": _t("Forælder", "Parent"), "other": _t("Anden", "Other")}
SEX_LABELS = {"female": _t("Kvinde/pige", "Female"), "male": _t("Mand/dreng", "Male"),
              "not_stated": _t("Ikke oplyst", "Not stated")}
KIND_LABELS = {"baseline": _t("Første måling", "Baseline"), "progress": _t("Opfølgning", "Progress"),
               "closing": _t("Afsluttende måling", "Closing")}
MODE_LABELS = {"in_person": _t("Fremmøde", "In person"), "phone": _t("Telefon", "Phone"),
               "paper": _t("Papir", "Paper")}
MISSING_ITEM = _t(f"tom = ikke besvaret; {DECLINED} = ønskede ikke at svare",
                  f"empty = not answered; {DECLINED} = declined to answer")
MISSING_SCORE = _t("tom = kunne ikke beregnes (ugyldig eller manglende svar, eller scoringen fejlede: "
                   "score_flags indeholder da scoring_failed)",
                   "empty = could not be computed (invalid or missing answers, or scoring failed: "
                   "score_flags then holds scoring_failed)")


@dataclass(frozen=True)
class Column:
    """One variable of an export, with everything the codebook says about it."""

    name: str
    label: dict[str, str]
    type: str  # string, integer, number, boolean, date, datetime
    value_labels: tuple[tuple[Any, dict[str, str]], ...] = ()
    missing: dict[str, str] = field(default_factory=dict)
    instrument_version: str = ""
    scoring_version: str = ""
    measure: str = "nominal"  # nominal, ordinal, scale (SPSS)
    band: bool = False  # a score's band: SPSS and Stata get it coded 1..k with the band labels
    #: the same variable as older definition versions label it, where that differs (codebook rows)
    other_versions: tuple[Column, ...] = ()
    #: a repeatable group's column: (group id, entry number from 1 or 0 for the count, field id)
    entry: tuple[str, int, str] | None = None


@dataclass(frozen=True)
class ExportRequest:
    """What to export. ``municipality_ids`` None means every municipality (system administrator).

    ``enrolled_from``/``enrolled_to`` keep the families enrolled in that period
    (inclusive), the same period filter as the reports'.
    """

    instrument_ids: tuple[str, ...]
    municipality_ids: tuple[int, ...] | None = None
    identifiable: bool = False
    enrolled_from: date | None = None
    enrolled_to: date | None = None


def _labels(mapping: dict[str, dict[str, str]], order: Sequence[str]
            ) -> tuple[tuple[Any, dict[str, str]], ...]:
    return tuple((code, mapping[code]) for code in order)


def id_columns(identifiable: bool, long: bool) -> list[Column]:
    """The leading columns that identify who, where and when."""
    ids = [
        Column("municipality", _t("Kommune", "Municipality"), "string"),
        Column("family", _t("Familie (sagsnummer)" if identifiable else "Familie (pseudonym)",
                            "Family (case reference)" if identifiable else "Family (pseudonym)"), "string"),
        Column("person", _t("Besvarer" + (" (reference)" if identifiable else " (pseudonym)"),
                            "Respondent" + (" (reference)" if identifiable else " (pseudonym)")), "string"),
        Column("about", _t("Besvaret om (barnet)", "Answered about (the child)"), "string",
               missing=_t("tom = besvareren selv", "empty = the respondent themself")),
        Column("role", _t("Besvarerens rolle", "Respondent's role"), "string",
               _labels(ROLE_LABELS, PERSON_ROLES)),
        Column("sex", _t("Køn", "Sex"), "string", _labels(SEX_LABELS, SEXES)),
        Column("birth_date", _t("Fødselsdato", "Birth date"), "date") if identifiable else
        Column("age", _t("Alder ved besvarelse" if long else "Alder ved første måling",
                         "Age when answering" if long else "Age at first measurement"), "integer",
               measure="scale", missing=_t("tom = fødselsdato ukendt", "empty = birth date unknown")),
    ]
    if not long:
        return ids
    response = Column("response_id",
                      _t("Besvarelse (id)" if identifiable else "Besvarelse (pseudonym)",
                         "Response (id)" if identifiable else "Response (pseudonym)"), "string")
    return [response, *ids]


def long_columns(instrument: Instrument, identifiable: bool = False, *,
                 older: Sequence[Definition] = (), entries: Mapping[str, int] | None = None) -> list[Column]:
    """Every column of the long layout for one instrument, in order (the long codebook).

    ``older`` are the kept definitions of older versions that exported
    responses were answered with: an item they have and the current version
    lacks gets a column of its own (labelled by that version), and an item
    whose label or value labels differ gets a codebook row per version.
    ``entries`` is the number of entries to give each repeatable group
    columns for (the most any exported response has; see :func:`long_layout`).
    """
    d = instrument.definition
    iv, sv = instrument.version, instrument.scoring_version
    columns = id_columns(identifiable, long=True) + [
        Column("about_role", _t("Rolle for den besvarelsen handler om", "Role of the person answered about"),
               "string", _labels(ROLE_LABELS, PERSON_ROLES)),
        Column("about_sex", _t("Køn for den besvarelsen handler om (barnets ved svar om et barn)",
                               "Sex of the person answered about (the child's, for answers about a child)"),
               "string", _labels(SEX_LABELS, SEXES)),
        Column("about_birth_date", _t("Fødselsdato for den besvarelsen handler om",
                                      "Birth date of the person answered about"), "date",
               missing=_t("tom = ukendt", "empty = unknown")) if identifiable else
        Column("about_age", _t("Alder ved besvarelse for den besvarelsen handler om (barnets ved svar om et "
                               "barn)", "Age when answered of the person answered about (the child's, for "
                               "answers about a child)"), "integer", measure="scale",
               missing=_t("tom = fødselsdato ukendt", "empty = birth date unknown")),
        Column("enrolled_on", _t("Familien indskrevet", "Family enrolled"), "date"),
        Column("wave", _t("Måling nr.", "Measurement number"), "integer", measure="ordinal"),
        Column("wave_kind", _t("Målingstype", "Kind of measurement"), "string",
               _labels(KIND_LABELS, WAVE_KINDS)),
        Column("instrument", _t("Instrument", "Instrument"), "string"),
        Column("instrument_version", _t("Instrumentversion", "Instrument version"), "string"),
        Column("scoring_version", _t("Scoringsversion (den der beregnede rækkens scorer)",
                                     "Scoring version (the one that computed the row's scores)"), "string",
               scoring_version=sv),
        Column("mode", _t("Besvarelsesform", "Mode of administration"), "string",
               _labels(MODE_LABELS, MODES)),
        Column("language", _t("Sprog", "Language"), "string"),
        Column("wording", _t("Ordlyd (ordlydspakkens kilde, project_labels eller imported)",
                             "Wording (the wording pack's source, project_labels or imported)"), "string"),
        Column("wording_sha256", _t("Ordlydspakkens SHA-256", "The wording pack's SHA-256"), "string",
               missing=_t("tom = ingen ordlydspakke", "empty = no wording pack")),
        Column("created_at", _t("Oprettet (UTC)", "Created (UTC)"), "datetime"),
        Column("submitted_at", _t("Indsendt (UTC)", "Submitted (UTC)"), "datetime"),
    ]
    older = sorted(older, key=lambda o: _version_key(o.version), reverse=True)  # newest first
    # the current items, then items only older versions have (labelled by the newest that has them)
    items = [(item, d) for item in d.items] + [(item, o) for o in older for item in o.items]
    seen: set[str] = set()
    for item, definition in items:
        if item["id"] in seen:
            continue
        seen.add(item["id"])
        made = item_columns(definition, item, (entries or {}).get(item["id"], _default_entries(item)))
        for column in made:
            others = []
            for version in older:
                if version is definition or item["id"] not in version.items_by_id:
                    continue
                for other in item_columns(version, version.items_by_id[item["id"]],
                                          (entries or {}).get(item["id"], _default_entries(item))):
                    if other.name == column.name and (other.label, other.value_labels, other.type) != (
                            column.label, column.value_labels, column.type):
                        others.append(other)
            columns.append(replace(column, other_versions=tuple(others)) if others else column)
    for spec in d.scores:
        columns.append(Column(score_column(spec["name"]), dict(spec["label"]), "number",
                              missing=MISSING_SCORE, instrument_version=iv, scoring_version=sv,
                              measure="scale"))
        if spec.get("bands"):
            band_label = _t(spec["label"]["da"] + " – gruppe", spec["label"]["en"] + " – band")
            columns.append(Column(band_column(spec["name"]), band_label, "string",
                                  tuple(spec["bands"].items()), missing=MISSING_SCORE,
                                  instrument_version=iv, scoring_version=sv, measure="ordinal", band=True))
    columns.append(Column(VALID_COLUMN, _t("Gyldig scoring", "Valid scoring"), "boolean",
                          ((1, _t("Ja", "Yes")), (0, _t("Nej", "No"))), scoring_version=sv))
    columns.append(Column(FLAGS_COLUMN, _t("Bemærkninger (koder)", "Remarks (codes)"), "string",
                          scoring_version=sv))
    return columns


def item_column(definition: Definition | Instrument, item: Mapping[str, Any]) -> Column:
    """The codebook entry of one (non-group) item in ``definition``: its label, type and value labels."""
    d = definition.definition if isinstance(definition, Instrument) else definition
    kind = item.get("type", "choice")
    iv = d.version
    if kind == "choice":
        options = d.scale_options(item)
        numeric = all(isinstance(o["code"], int) and not isinstance(o["code"], bool) for o in options)
        missing = MISSING_ITEM if numeric else _t(
            f"tom = ikke besvaret; {DECLINED_TEXT} = ønskede ikke at svare",
            f"empty = not answered; {DECLINED_TEXT} = declined to answer")
        return Column(item["id"], dict(item["label"]), "integer" if numeric else "string",
                      tuple((o["code"], dict(o["label"])) for o in options), missing, iv, measure="ordinal")
    if kind == "number":
        return Column(item["id"], dict(item["label"]), "integer" if item.get("integer") else "number",
                      missing=MISSING_ITEM, instrument_version=iv, measure="scale")
    if kind == "boolean":
        return Column(item["id"], dict(item["label"]), "boolean",
                      ((1, _t("Ja", "Yes")), (0, _t("Nej", "No"))), MISSING_ITEM, iv)
    if kind == "date":
        return Column(item["id"], dict(item["label"]), "date", missing=MISSING_ITEM, instrument_version=iv)
    return Column(item["id"], dict(item["label"]), "string", missing=MISSING_ITEM, instrument_version=iv)


def _default_entries(item: Mapping[str, Any]) -> int:
    return max(int(item.get("min_repeat", 0)), 1) if item.get("type") == "group" else 0


def item_columns(definition: Definition, item: Mapping[str, Any], entries: int = 0) -> list[Column]:
    """An item's columns: one, or for a repeatable group its entry count and one per entry and field."""
    if item.get("type") != "group":
        return [item_column(definition, item)]
    label = item["label"]
    count = Column(group_count_column(item["id"]),
                   _t(f"{label['da']}: antal punkter (højst {entries} i dette udtræk)",
                      f"{label['en']}: number of entries (at most {entries} in this export)"),
                   "integer", missing=_t("tom = ikke besvaret", "empty = not answered"),
                   instrument_version=definition.version, measure="scale", entry=(item["id"], 0, ""))
    out = [count]
    for number in range(1, entries + 1):
        for sub in item["items"]:
            column = item_column(definition, sub)
            out.append(replace(
                column, name=group_entry_column(item["id"], number, sub["id"]),
                label=_t(f"{label['da']} {number}: {sub['label']['da']}",
                         f"{label['en']} {number}: {sub['label']['en']}"),
                missing=_t("tom = ikke besvaret eller intet punkt nr. " + str(number),
                           f"empty = not answered or no entry {number}"),
                entry=(item["id"], number, sub["id"])))
    return out


def long_layout(session: Session, instrument: Instrument, request: ExportRequest) -> list[Column]:
    """The long layout's columns for what ``request`` exports of ``instrument``.

    Reads which definition versions the exported responses were answered
    with (their kept copies label them) and the most entries any exported
    response has in each repeatable group (so every entry gets its columns).
    """
    from formengine.definition_versions import stored_definition

    base = (select(Response.instrument_version).distinct().select_from(Response)
            .outerjoin(Wave, Wave.id == Response.wave_id)
            .where(Response.instrument_id == instrument.id, Response.status == "submitted", not_practice()))
    versions = [v for v in session.scalars(_scope(base, request)) if v != instrument.version]
    older = [d for d in (stored_definition(session, instrument.id, v) for v in versions) if d is not None]
    groups = {item["id"] for definition in [instrument.definition, *older] for item in definition.items
              if item.get("type") == "group"}
    entries: dict[str, int] = {}
    for group in sorted(groups):
        length = (func.jsonb_array_length(Response.answers[group])
                  if session.get_bind().dialect.name == "postgresql"
                  else func.json_array_length(Response.answers, f"$.{group}"))
        stmt = (select(func.max(length)).select_from(Response).outerjoin(Wave, Wave.id == Response.wave_id)
                .where(Response.instrument_id == instrument.id, Response.status == "submitted",
                       not_practice()))
        most = session.scalar(_scope(stmt, request)) or 0
        entries[group] = max(int(most), _default_entries({"type": "group"}))
    return long_columns(instrument, request.identifiable, older=older, entries=entries)


def _scope(stmt: Select, request: ExportRequest) -> Select:
    """Restrict to the request's municipalities and enrolment period (the statement joins ``Wave``)."""
    if request.municipality_ids is not None:
        stmt = stmt.where(Response.municipality_id.in_(request.municipality_ids))
    if request.enrolled_from or request.enrolled_to:
        enrolled = select(Family.id)
        if request.enrolled_from:
            enrolled = enrolled.where(Family.enrolled_on >= request.enrolled_from)
        if request.enrolled_to:
            enrolled = enrolled.where(Family.enrolled_on <= request.enrolled_to)
        stmt = stmt.where(Wave.family_id.in_(enrolled))
    return stmt


def _json(value: Any, empty: Any) -> Any:
    """A JSON column read as text (SQLite) or already decoded (PostgreSQL)."""
    if value is None:
        return empty
    if isinstance(value, str):
        if value in ("[]", "{}", "null"):
            return empty
        return json.loads(value)
    return value


def _moment(value: Any) -> datetime | None:
    """A UTC timestamp read as text (SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff") or as a datetime."""
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return value


def _day(value: Any) -> date | None:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


class _Decoded:
    """Decodes a JSON column that takes few distinct values (wording, bands, flags) once per value."""

    def __init__(self, empty: Any):
        self.empty = empty
        self.seen: dict[str, Any] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str):
            return self.empty if value is None else value
        found = self.seen.get(value)
        if found is None:
            if len(self.seen) > 10_000:
                self.seen.clear()
            found = self.seen[value] = _json(value, self.empty)
        return found


def _json_text(column: Any) -> Any:
    """A JSON column sent as text: PostgreSQL would otherwise send jsonb, which the driver decodes
    on every row; as text, the few distinct values of wording, bands and flags are decoded once."""
    return cast(column, Text)


def iter_long_rows(session: Session, instrument: Instrument, request: ExportRequest,
                   columns: list[Column] | None = None) -> Iterator[list[Any]]:
    """The long layout's rows for one instrument (submitted responses, current scores), streamed.

    ``columns`` are :func:`long_layout`'s (computed when not given). Runs on
    the session's connection without the ORM (and reads JSON columns as text)
    so that 100,000 rows stream quickly in constant memory. Answers are the
    codes as stored, read with the codebook of the row's ``instrument_version``.
    """
    if columns is None:
        columns = long_layout(session, instrument, request)
    first = next(i for i, c in enumerate(columns) if c.name == "submitted_at") + 1
    last = next(i for i, c in enumerate(columns) if c.name.startswith(SCORE_PREFIX))
    item_cols = columns[first:last]
    names = [c.name for c in item_cols]
    # where a column's value comes from: an item, or (group, entry index, field) of a repeatable group
    entry_of = {c.name: c.entry for c in item_cols}
    declined_code = {c.name: (DECLINED if c.type in ("integer", "number", "boolean") else DECLINED_TEXT)
                     for c in item_cols}
    booleans = {c.name for c in item_cols if c.type == "boolean"}
    special = bool(booleans) or any(v is not None for v in entry_of.values())
    score_names = [(spec["name"], bool(spec.get("bands"))) for spec in instrument.definition.scores]
    respondent, subject = aliased(Person), aliased(Person)
    stmt = _scope(
        select(
            Response.id, Score.scoring_version, Response.uuid, Response.municipality_id, Municipality.name,
            Wave.family_id, Family.case_ref, Response.person_id, respondent.name, Response.about_person_id,
            subject.name, respondent.role, respondent.sex, type_coerce(respondent.birth_date, Text),
            subject.role, subject.sex, type_coerce(subject.birth_date, Text),
            type_coerce(Family.enrolled_on, Text), Wave.number, Wave.kind, Response.instrument_version,
            Response.mode, Response.language,
            _json_text(Response.wording), type_coerce(Response.created_at, Text),
            type_coerce(Response.submitted_at, Text),
            _json_text(Response.answers), _json_text(Response.declined),
            Score.valid, _json_text(Score.scores), _json_text(Score.bands),
            _json_text(Score.flags),
        )
        .select_from(Response)
        .join(Score, Score.id == current_score_id())
        .join(Municipality, Municipality.id == Response.municipality_id)
        .outerjoin(Wave, Wave.id == Response.wave_id)
        .outerjoin(Family, Family.id == Wave.family_id)
        .outerjoin(respondent, respondent.id == Response.person_id)
        .outerjoin(subject, subject.id == Response.about_person_id)
        .where(Response.instrument_id == instrument.id, Response.status == "submitted", not_practice())
        .order_by(Response.id),
        request,
    )
    pseudo = None if request.identifiable else Pseudonymiser(session)
    wording_of, declined_of, bands_of, flags_of = _Decoded({}), _Decoded(()), _Decoded({}), _Decoded(())
    result = session.connection().execute(stmt, execution_options={"yield_per": BATCH})
    for row in result:
        (rid, scoring_version, uuid, mid, mname, family_id, case_ref, pid, pname, about_id, about_name,
         role, sex, birth_date, about_role, about_sex, about_birth, enrolled_on, number, kind, iversion, mode,
         language, wording, created, submitted, answers, declined, valid, score_values, bands, flags) = row
        created, submitted, birth_date = _moment(created), _moment(submitted), _day(birth_date)
        about_birth = _day(about_birth)
        if pseudo is None:
            out = [uuid, mname, case_ref or "", pname or "", about_name or "", role or "", sex or "",
                   birth_date, about_role or "", about_sex or "", about_birth]
        else:
            day = when.date() if (when := submitted or created) else None
            out = [pseudo(mid, "response", rid), mname, pseudo(mid, "family", family_id),
                   pseudo(mid, "person", pid), pseudo(mid, "person", about_id), role or "", sex or "",
                   age_on(birth_date, day) if day else None, about_role or "", about_sex or "",
                   age_on(about_birth, day) if day else None]
        wording = wording_of(wording)
        out += [_day(enrolled_on), number, kind, instrument.id, iversion, scoring_version, mode, language,
                wording.get("source") or wording.get("kind", ""), wording.get("sha256") or "", created,
                submitted]
        answers = _json(answers, {})
        declined = declined_of(declined)
        values = [answers.get(name) for name in names]
        if declined or special:
            for index, name in enumerate(names):
                source = entry_of[name]
                if source is not None:
                    group, number, field_id = source
                    entries = answers.get(group)
                    if not isinstance(entries, list):
                        values[index] = None
                    elif number == 0:
                        values[index] = len(entries)
                    else:
                        entry = entries[number - 1] if number <= len(entries) else {}
                        values[index] = entry.get(field_id) if isinstance(entry, dict) else None
                value = values[index]
                if value is None:
                    if source is None and name in declined:
                        values[index] = declined_code[name]
                elif isinstance(value, bool):
                    values[index] = int(value)
        out += values
        score_values = _json(score_values, {})
        bands = bands_of(bands)
        for name, has_bands in score_names:
            out.append(score_values.get(name))
            if has_bands:
                out.append(bands.get(name))
        out.append(1 if valid else 0)
        out.append(",".join(f.get("code", "") for f in flags_of(flags)))
        yield out


# -- wide ------------------------------------------------------------------
WIDE_ROWS = _t(
    "Én række pr. besvarer og person besvarelserne handler om (en forælders svar om et barn er en række "
    "for sig); hvert instruments variable har præfikset <instrument>_ og suffikset _w<k> for måling k. "
    "Måling k er den samme som i progressionsrapporten: den afsluttende måling har sit eget nummer "
    "(<instrument>_kind_w<k> = closing); er der svaret to gange i en måling, tæller det seneste svar.",
    "One row per respondent and the person the answers are about (a parent's answers about a child are a "
    "row of their own); each instrument's variables carry the prefix <instrument>_ and the suffix _w<k> "
    "for measurement k. Measurement k is the progression report's: the closing measurement has its own "
    "number (<instrument>_kind_w<k> = closing); answered twice in one measurement, the later answer counts.")


def _wave_word(k: int) -> dict[str, str]:
    return _t(f"måling {k}", f"measurement {k}")


def wide_person_columns(identifiable: bool) -> list[Column]:
    """The wide layout's leading columns: who, the family's dates and the subject's sex and age."""
    columns = id_columns(identifiable, long=False)
    columns += [
        Column("enrolled_on", _t("Familien indskrevet", "Family enrolled"), "date"),
        Column("closed_on", _t("Familien afsluttet", "Family closed"), "date",
               missing=_t("tom = ikke afsluttet", "empty = not closed")),
        Column("about_role", _t("Rolle for den besvarelserne handler om",
                                "Role of the person answered about"),
               "string", _labels(ROLE_LABELS, PERSON_ROLES)),
        Column("about_sex", _t("Køn for den besvarelserne handler om (barnets køn ved svar om et barn)",
                               "Sex of the person answered about (the child's, for answers about a child)"),
               "string", _labels(SEX_LABELS, SEXES)),
        Column("about_birth_date", _t("Fødselsdato for den besvarelserne handler om",
                                      "Birth date of the person answered about"), "date",
               missing=_t("tom = ukendt", "empty = unknown")) if identifiable else
        Column("about_age", _t("Alder ved første måling for den besvarelserne handler om (barnets alder ved "
                               "svar om et barn)",
                               "Age at first measurement of the person answered about (the child's, for "
                               "answers about a child)"), "integer", measure="scale",
               missing=_t("tom = fødselsdato ukendt", "empty = birth date unknown")),
    ]
    return columns


def wave_columns(instrument: Instrument, k: int) -> list[Column]:
    """The columns of measurement ``k`` of one instrument in the wide layout."""
    i, d = instrument.id, instrument.definition
    iv, sv = instrument.version, instrument.scoring_version
    title_da, title_en = d.title("da"), d.title("en")
    when = _wave_word(k)

    def label(da: str, en: str) -> dict[str, str]:
        return _t(f"{title_da}: {da}, {when['da']}", f"{title_en}: {en}, {when['en']}")

    not_measured = _t("tom = ingen gyldig besvarelse i målingen",
                      "empty = no valid response in the measurement")
    columns = [
        Column(f"{i}_date_w{k}", label("målingsdato", "date measured"), "date", missing=not_measured),
        Column(f"{i}_days_w{k}", label("dage efter indskrivning", "days since enrolment"), "integer",
               missing=not_measured, measure="scale"),
        Column(f"{i}_kind_w{k}", label("målingstype", "kind of measurement"), "string",
               _labels(KIND_LABELS, WAVE_KINDS), missing=not_measured),
        Column(f"{i}_mode_w{k}", label("besvarelsesform", "mode of administration"), "string",
               _labels(MODE_LABELS, MODES), missing=not_measured),
    ]
    for spec in d.scores:
        columns.append(Column(f"{i}_{spec['name']}_w{k}", label(spec["label"]["da"], spec["label"]["en"]),
                              "number", missing=MISSING_SCORE, instrument_version=iv, scoring_version=sv,
                              measure="scale"))
        if spec.get("bands"):
            columns.append(Column(f"{i}_{spec['name']}_band_w{k}",
                                  label(spec["label"]["da"] + " – gruppe", spec["label"]["en"] + " – band"),
                                  "string", tuple(spec["bands"].items()), missing=MISSING_SCORE,
                                  instrument_version=iv, scoring_version=sv, measure="ordinal", band=True))
    columns += [
        Column(f"{i}_sv_w{k}", label("scoringsversion bag scorerne", "scoring version behind the scores"),
               "string", missing=not_measured, scoring_version=sv),
        Column(f"{i}_iv_w{k}", label("instrumentversion (definition)", "instrument (definition) version"),
               "string", missing=not_measured, instrument_version=iv),
    ]
    return columns


def wide_columns(session: Session, registry: PluginRegistry, request: ExportRequest) -> list[Column]:
    """Person columns, then per instrument and measurement number present in the data its wave columns."""
    columns = wide_person_columns(request.identifiable)
    present = _scope(
        select(Response.instrument_id, Wave.number).distinct()
        .join(Wave, Wave.id == Response.wave_id)
        .where(Response.status == "submitted", Response.instrument_id.in_(request.instrument_ids),
               Response.person_id.is_not(None)),
        request,
    )
    numbers: dict[str, set[int]] = {}
    for instrument_id, number in session.execute(present):
        numbers.setdefault(instrument_id, set()).add(number)
    for instrument_id in request.instrument_ids:
        instrument = registry.get(instrument_id)
        if instrument is None or instrument_id not in numbers:
            continue
        for k in sorted(numbers[instrument_id]):
            columns += wave_columns(instrument, k)
    return columns


def iter_wide_rows(session: Session, registry: PluginRegistry, request: ExportRequest,
                   columns: list[Column]) -> Iterator[list[Any]]:
    """One row per respondent and subject, streamed: series by series from one ordered query.

    Measurement k of each score is :func:`formengine.reports.measurements.pick_wave`
    over the series' observations, as in the progression report.
    """
    index = {c.name: i for i, c in enumerate(columns)}
    respondent, subject = aliased(Person), aliased(Person)
    stmt = _scope(
        select(
            Response.id, Score.scoring_version, Response.instrument_id, Response.municipality_id,
            Municipality.name, Wave.family_id, Family.case_ref, Family.enrolled_on, Family.closed_on,
            Response.person_id, respondent.name, Response.about_person_id, subject.name, respondent.role,
            respondent.sex, respondent.birth_date, subject.role, subject.sex, subject.birth_date,
            Wave.number, Wave.kind, Response.submitted_at, Response.created_at, Response.mode,
            Response.instrument_version, Score.valid, Score.scores, Score.bands,
        )
        .join(Score, Score.response_id == Response.id)
        .join(Municipality, Municipality.id == Response.municipality_id)
        .join(Wave, Wave.id == Response.wave_id)
        .outerjoin(Family, Family.id == Wave.family_id)
        .join(respondent, respondent.id == Response.person_id)
        .outerjoin(subject, subject.id == Response.about_person_id)
        .where(Response.status == "submitted", Response.instrument_id.in_(request.instrument_ids),
               not_practice())
        .order_by(Response.person_id, Response.about_person_id, Response.id, Score.id),
        request,
    )
    pseudo = None if request.identifiable else Pseudonymiser(session)
    group: list[Any] = []
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    # rows of one response are adjacent, ordered by score id: keep the current score's row
    for raw in current_rows(result, response_of=lambda r: r[0]):
        if group and (raw[9], raw[11]) != (group[0][9], group[0][11]):
            yield _wide_row(group, columns, index, registry, pseudo)
            group = []
        group.append(raw)
    if group:
        yield _wide_row(group, columns, index, registry, pseudo)


def _wide_row(group: list[Any], columns: list[Column], index: dict[str, int], registry: PluginRegistry,
              pseudo: Pseudonymiser | None) -> list[Any]:
    """The wide row of one series (one respondent's responses about one person)."""
    (_rid, _sv, _iid, mid, mname, family_id, case_ref, enrolled_on, closed_on, pid, pname, about_id,
     about_name, role, sex, birth_date, about_role, about_sex, about_birth, *_rest) = group[0]
    enrolled_on, closed_on = _day(enrolled_on), _day(closed_on)
    first_day = min(measured_on(_moment(r[21]), _moment(r[22])) for r in group)
    if pseudo is None:
        head = [mname, case_ref or "", pname or "", about_name or "", role, sex, _day(birth_date),
                enrolled_on, closed_on, about_role, about_sex, _day(about_birth)]
    else:
        head = [mname, pseudo(mid, "family", family_id), pseudo(mid, "person", pid),
                pseudo(mid, "person", about_id), role, sex, age_on(_day(birth_date), first_day),
                enrolled_on, closed_on, about_role, about_sex, age_on(_day(about_birth), first_day)]
    row: list[Any] = head + [None] * (len(columns) - len(head))
    by_instrument: dict[str, list[Any]] = {}
    for r in group:
        by_instrument.setdefault(r[2], []).append(r)
    for instrument_id, rows in by_instrument.items():
        instrument = registry.get(instrument_id)
        if instrument is None:
            continue
        # the measurement's own columns come from the answer that counts among the valid ones
        answered: list[tuple[Observation, Any]] = []
        for r in rows:
            obs = _observation_of(r, 1.0 if r[25] else None, None)
            if obs is not None:
                answered.append((obs, r))
        chosen = {}
        for k in {o.wave_number for o, _r in answered}:
            picked = pick_wave([o for o, _r in answered], k)
            if picked is not None:
                chosen[k] = next(r for o, r in answered if o is picked)
        for k, r in chosen.items():
            day = measured_on(_moment(r[21]), _moment(r[22]))
            _put(row, index, f"{instrument_id}_date_w{k}", day)
            _put(row, index, f"{instrument_id}_days_w{k}", (day - enrolled_on).days if enrolled_on else None)
            _put(row, index, f"{instrument_id}_kind_w{k}", r[20])
            _put(row, index, f"{instrument_id}_mode_w{k}", r[23])
            _put(row, index, f"{instrument_id}_sv_w{k}", r[1])
            _put(row, index, f"{instrument_id}_iv_w{k}", r[24])
        for spec in instrument.definition.scores:
            name = spec["name"]
            series = []
            for r in rows:
                obs = _observation_of(r, _json(r[26], {}).get(name), _json(r[27], {}).get(name))
                if obs is not None:
                    series.append(obs)
            for k in {o.wave_number for o in series}:
                picked = pick_wave(series, k)
                if picked is not None:
                    _put(row, index, f"{instrument_id}_{name}_w{k}", _plain_number(picked.value))
                    _put(row, index, f"{instrument_id}_{name}_band_w{k}", picked.band)
    return row


def _observation_of(r: Any, value: Any, band: Any) -> Observation | None:
    return observation(response_id=r[0], municipality_id=r[3], person_id=r[9], about_person_id=r[11],
                       wave_number=r[19], wave_kind=r[20], submitted_at=_moment(r[21]),
                       created_at=_moment(r[22]), valid=bool(r[25]), value=value, band=band)


def _plain_number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _put(row: list[Any], index: dict[str, int], name: str, value: Any) -> None:
    position = index.get(name)
    if position is not None:
        row[position] = value


LONG_ROWS = _t("Én række pr. indsendt besvarelse af ét instrument.",
               "One row per submitted response of one instrument.")
ROWS_VARIABLE = "(rows)"


def rows_note(columns: list[Column]) -> dict[str, str]:
    """What one row of the file is (the codebook's first entry)."""
    return LONG_ROWS if columns and columns[0].name == "response_id" else WIDE_ROWS


def codebook_rows(columns: list[Column]) -> Iterator[list[Any]]:
    """The codebook as rows: variable, Danish and English label, type, value labels, missing, versions.

    A variable whose label or value labels differ under an older definition
    version that exported rows were answered with has one row per version
    (``instrument_version`` says which; a row's own ``instrument_version``
    column says which applies to it). The first entry, ``(rows)``, says what one row of the data is.
    """
    yield ["variable", "label_da", "label_en", "type", "value_labels_da", "value_labels_en",
           "missing_da", "missing_en", "instrument_version", "scoring_version"]
    note = rows_note(columns)
    yield [ROWS_VARIABLE, note["da"], note["en"], "", "", "", "", "", "", ""]
    for column in columns:
        # a variable older definition versions label differently gets a row per version
        for c in (column, *column.other_versions):
            yield [
                c.name, c.label.get("da", ""), c.label.get("en", ""), c.type,
                "; ".join(f"{code}={lab.get('da', '')}" for code, lab in c.value_labels),
                "; ".join(f"{code}={lab.get('en', '')}" for code, lab in c.value_labels),
                c.missing.get("da", ""), c.missing.get("en", ""), c.instrument_version, c.scoring_version,
            ]


def scored_instrument_ids(registry: PluginRegistry) -> tuple[str, ...]:
    """Instruments about persons that declare scores (what the wide layout can hold)."""
    return tuple(i.id for i in registry.sorted_instruments()
                 if i.definition.scores and i.definition.subject == "person")


def plain(value: Any) -> Any:
    """A cell value as text-friendly data: datetimes and dates in ISO form."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
