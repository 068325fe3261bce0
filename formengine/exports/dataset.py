"""The export data set: its columns (the codebook) and its rows, streamed from the database.

Two layouts:

- long: one row per submitted response of one instrument, with ids, wave,
  versions, mode, dates, every item's code, every score and band;
- wide: one row per person (respondent and, where answered about someone
  else, the subject), with ``<instrument>_<score>_w<n>`` for each measurement
  number n and ``..._wc`` for the closing measurement.

Rows are produced by generators over ``yield_per`` queries, so an export of
any size runs in constant memory. Person, family and response ids are keyed
pseudonyms unless an identifiable export is asked for; CPR numbers are never
exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, Text, select, type_coerce
from sqlalchemy.orm import Session, aliased

from formengine.current_score import current_rows, current_score_id
from formengine.exports.layout import (
    DECLINED,
    DECLINED_TEXT,
    FLAGS_COLUMN,
    VALID_COLUMN,
    band_column,
    score_column,
)
from formengine.exports.pseudonyms import Pseudonymiser
from formengine.instruments import Instrument
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
from formengine.reports.data import age_on

BATCH = 2000
# wide layout: <instrument>_scoring_version_<wave> says which scoring version produced that wave's scores
SCORING_VERSION_SUFFIX = "scoring_version"


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


def long_columns(instrument: Instrument, identifiable: bool = False) -> list[Column]:
    """Every column of the long layout for one instrument, in order (the long codebook)."""
    d = instrument.definition
    iv, sv = instrument.version, instrument.scoring_version
    columns = id_columns(identifiable, long=True) + [
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
        Column("wording", _t("Ordlyd", "Wording"), "string"),
        Column("created_at", _t("Oprettet (UTC)", "Created (UTC)"), "datetime"),
        Column("submitted_at", _t("Indsendt (UTC)", "Submitted (UTC)"), "datetime"),
    ]
    for item in d.items:
        columns.append(item_column(instrument, item))
    for spec in d.scores:
        columns.append(Column(score_column(spec["name"]), dict(spec["label"]), "number",
                              missing=MISSING_SCORE, instrument_version=iv, scoring_version=sv,
                              measure="scale"))
        if spec.get("bands"):
            band_label = _t(spec["label"]["da"] + " – gruppe", spec["label"]["en"] + " – band")
            columns.append(Column(band_column(spec["name"]), band_label, "string",
                                  tuple(spec["bands"].items()), missing=MISSING_SCORE,
                                  instrument_version=iv, scoring_version=sv, measure="ordinal"))
    columns.append(Column(VALID_COLUMN, _t("Gyldig scoring", "Valid scoring"), "boolean",
                          ((1, _t("Ja", "Yes")), (0, _t("Nej", "No"))), scoring_version=sv))
    columns.append(Column(FLAGS_COLUMN, _t("Bemærkninger (koder)", "Remarks (codes)"), "string",
                          scoring_version=sv))
    return columns


def item_column(instrument: Instrument, item: dict[str, Any]) -> Column:
    """The codebook entry of one item: its project label, type and value labels."""
    d = instrument.definition
    kind = item.get("type", "choice")
    iv = instrument.version
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
    if kind == "group":
        return Column(item["id"], dict(item["label"]), "string",
                      missing=_t("tom = ikke besvaret; ellers JSON-liste",
                                 "empty = not answered; else a JSON list"),
                      instrument_version=iv)
    return Column(item["id"], dict(item["label"]), "string", missing=MISSING_ITEM, instrument_version=iv)


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


def iter_long_rows(session: Session, instrument: Instrument, request: ExportRequest) -> Iterator[list[Any]]:
    """The long layout's rows for one instrument (submitted responses, current scores), streamed.

    Runs on the session's connection without the ORM (and reads JSON columns
    as text) so that 100,000 rows stream quickly in constant memory.
    """
    columns = long_columns(instrument, request.identifiable)
    by_id = instrument.definition.items_by_id
    item_columns = [c for c in columns if c.name in by_id]
    names = [c.name for c in item_columns]
    # items whose stored value is not already a plain code (yes/no, repeatable groups)
    special = {c.name: c for c in item_columns if by_id[c.name].get("type") in ("boolean", "group")}
    declined_code = {c.name: (DECLINED if c.type in ("integer", "number", "boolean") else DECLINED_TEXT)
                     for c in item_columns}
    score_names = [(spec["name"], bool(spec.get("bands"))) for spec in instrument.definition.scores]
    respondent, subject = aliased(Person), aliased(Person)
    stmt = _scope(
        select(
            Response.id, Score.scoring_version, Response.uuid, Response.municipality_id, Municipality.name,
            Wave.family_id, Family.case_ref, Response.person_id, respondent.name, Response.about_person_id,
            subject.name, respondent.role, respondent.sex, type_coerce(respondent.birth_date, Text),
            Wave.number, Wave.kind, Response.instrument_version, Response.mode, Response.language,
            type_coerce(Response.wording, Text), type_coerce(Response.created_at, Text),
            type_coerce(Response.submitted_at, Text),
            type_coerce(Response.answers, Text), type_coerce(Response.declined, Text),
            Score.valid, type_coerce(Score.scores, Text), type_coerce(Score.bands, Text),
            type_coerce(Score.flags, Text),
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
         role, sex, birth_date, number, kind, iversion, mode, language, wording, created, submitted,
         answers, declined, valid, score_values, bands, flags) = row
        created, submitted, birth_date = _moment(created), _moment(submitted), _day(birth_date)
        if pseudo is None:
            out = [uuid, mname, case_ref or "", pname or "", about_name or "", role or "", sex or "",
                   birth_date]
        else:
            out = [pseudo(mid, "response", rid), mname, pseudo(mid, "family", family_id),
                   pseudo(mid, "person", pid), pseudo(mid, "person", about_id), role or "", sex or "",
                   age_on(birth_date, when.date()) if (when := submitted or created) else None]
        wording = wording_of(wording)
        out += [number, kind, instrument.id, iversion, scoring_version, mode, language,
                wording.get("source") or wording.get("kind", ""), created, submitted]
        answers = _json(answers, {})
        declined = declined_of(declined)
        values = [answers.get(name) for name in names]
        if declined or special:
            for index, name in enumerate(names):
                value = values[index]
                if value is None:
                    if name in declined:
                        values[index] = declined_code[name]
                elif name in special:
                    values[index] = int(value) if isinstance(value, bool) else json.dumps(
                        value, ensure_ascii=False)
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
def wave_suffix(number: int, kind: str) -> str:
    return "wc" if kind == "closing" else f"w{number}"


def wide_columns(session: Session, registry: PluginRegistry, request: ExportRequest) -> list[Column]:
    """Identity columns, then one column per instrument, score and measurement present in the data."""
    columns = id_columns(request.identifiable, long=False)
    present = _scope(
        select(Response.instrument_id, Wave.number, Wave.kind).distinct()
        .join(Wave, Wave.id == Response.wave_id)
        .where(Response.status == "submitted", Response.instrument_id.in_(request.instrument_ids),
               Response.person_id.is_not(None)),
        request,
    )
    suffixes: dict[str, set[tuple[int, str]]] = {}
    for instrument_id, number, kind in session.execute(present):
        suffixes.setdefault(instrument_id, set()).add((10**6 if kind == "closing" else number,
                                                       wave_suffix(number, kind)))
    for instrument_id in request.instrument_ids:
        instrument = registry.get(instrument_id)
        if instrument is None or instrument_id not in suffixes:
            continue
        for spec in instrument.definition.scores:
            for _order, suffix in sorted(suffixes[instrument_id]):
                when = (_t("afsluttende måling", "closing measurement") if suffix == "wc"
                        else _t(f"måling {suffix[1:]}", f"measurement {suffix[1:]}"))
                columns.append(Column(
                    f"{instrument_id}_{spec['name']}_{suffix}",
                    _t(f"{instrument.definition.title('da')}: {spec['label']['da']}, {when['da']}",
                       f"{instrument.definition.title('en')}: {spec['label']['en']}, {when['en']}"),
                    "number", missing=MISSING_SCORE, instrument_version=instrument.version,
                    scoring_version=instrument.scoring_version, measure="scale"))
        for _order, suffix in sorted(suffixes[instrument_id]):
            columns.append(Column(
                f"{instrument_id}_{SCORING_VERSION_SUFFIX}_{suffix}",
                _t(f"{instrument.definition.title('da')}: scoringsversion bag scorerne, måling {suffix[1:]}",
                   f"{instrument.definition.title('en')}: scoring version behind the scores, "
                   f"measurement {suffix[1:]}"),
                "string", missing=MISSING_SCORE, instrument_version=instrument.version,
                scoring_version=instrument.scoring_version))
    return columns


def iter_wide_rows(session: Session, registry: PluginRegistry, request: ExportRequest,
                   columns: list[Column]) -> Iterator[list[Any]]:
    """One row per respondent (and subject), streamed: person by person from one ordered query."""
    index = {c.name: i for i, c in enumerate(columns)}
    first_score = next((i for i, c in enumerate(columns) if c.name not in _ID_NAMES), len(columns))
    respondent, subject = aliased(Person), aliased(Person)
    stmt = _scope(
        select(
            Response.id, Score.scoring_version, Response.instrument_id, Response.municipality_id,
            Municipality.name, Wave.family_id, Family.case_ref, Response.person_id, respondent.name,
            Response.about_person_id, subject.name, respondent.role, respondent.sex, respondent.birth_date,
            Wave.number, Wave.kind, Response.submitted_at, Score.valid, Score.scores,
        )
        .join(Score, Score.response_id == Response.id)
        .join(Municipality, Municipality.id == Response.municipality_id)
        .join(Wave, Wave.id == Response.wave_id)
        .outerjoin(Family, Family.id == Wave.family_id)
        .join(respondent, respondent.id == Response.person_id)
        .outerjoin(subject, subject.id == Response.about_person_id)
        .where(Response.status == "submitted", Response.instrument_id.in_(request.instrument_ids))
        .order_by(Response.person_id, Response.about_person_id, Response.submitted_at, Response.id, Score.id),
        request,
    )
    pseudo = None if request.identifiable else Pseudonymiser(session)
    current_key: tuple[Any, Any] | None = None
    row: list[Any] = []
    first_seen: date | None = None
    birth: date | None = None
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    # rows of one response are adjacent, ordered by score id: keep the current score's row
    for raw in current_rows(result, response_of=lambda r: r[0]):
        (rid, scoring_version, instrument_id, mid, mname, family_id, case_ref, pid, pname, about_id,
         about_name, role, sex, birth_date, number, kind, submitted, valid, values) = raw
        key = (pid, about_id)
        if key != current_key:
            if current_key is not None:
                yield _finish(row, pseudo is None, first_seen, birth)
            current_key = key
            row = [None] * len(columns)
            if pseudo is None:
                row[:first_score] = [mname, case_ref or "", pname or "", about_name or "", role, sex,
                                     birth_date]
            else:
                row[:first_score] = [mname, pseudo(mid, "family", family_id), pseudo(mid, "person", pid),
                                     pseudo(mid, "person", about_id), role, sex, None]
            first_seen, birth = None, birth_date
        if submitted is not None and (first_seen is None or submitted.date() < first_seen):
            first_seen = submitted.date()
        if not valid:
            continue
        suffix = wave_suffix(number, kind)
        for name, value in (values or {}).items():
            position = index.get(f"{instrument_id}_{name}_{suffix}")
            if position is not None:
                row[position] = value  # later responses in the same wave overwrite earlier ones
        position = index.get(f"{instrument_id}_{SCORING_VERSION_SUFFIX}_{suffix}")
        if position is not None:
            row[position] = scoring_version
    if current_key is not None:
        yield _finish(row, pseudo is None, first_seen, birth)


_ID_NAMES = {"municipality", "family", "person", "about", "role", "sex", "age", "birth_date"}


def _finish(row: list[Any], identifiable: bool, first_seen: date | None, birth: date | None) -> list[Any]:
    if not identifiable:
        row[6] = age_on(birth, first_seen) if first_seen else None
    return row


def codebook_rows(columns: list[Column]) -> Iterator[list[Any]]:
    """The codebook as rows: variable, Danish and English label, type, value labels, missing, versions."""
    yield ["variable", "label_da", "label_en", "type", "value_labels_da", "value_labels_en",
           "missing_da", "missing_en", "instrument_version", "scoring_version"]
    for c in columns:
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
