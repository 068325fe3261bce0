"""FHIR R4 resources as plain JSON: Questionnaires, the people and families, the answers and their scores.

The export is NDJSON (one resource per line, as in FHIR bulk data): every
Questionnaire first, then a Patient per person the export mentions and a
Group per family, then each QuestionnaireResponse followed by the
Observation of its current score. Texts are the project labels in Danish.

- ``subject`` is the Patient the answers are about (the child of a parent's
  report about a child, the respondent of a self-report: :func:`formengine.responses.subject_of`);
  ``source`` and ``author`` the Patient who answered.
- A Patient's identifier is the keyed pseudonym in a pseudonymised export
  and ``<municipality>/<case reference>/<person reference>`` in an
  identifiable one; never a CPR number. A family is a Group of its Patients.
- The measurement extension (:data:`MEASUREMENT_EXTENSION`) carries the
  measurement number (the one the reports pair on), the planned wave's kind
  and due date, and the family; the scoring-version extension and the
  Observation's ``method`` say which scoring rules produced the scores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formengine.current_score import current_score_id
from formengine.definition_versions import definition_for
from formengine.exports.dataset import ExportRequest
from formengine.exports.pseudonyms import Pseudonymiser
from formengine.instruments import Definition, Instrument, text
from formengine.models import Family, Municipality, Person, Response, Score, Wave
from formengine.practice import not_practice
from formengine.responses import subject_of

BASE = "urn:formengine"
MEASUREMENT_EXTENSION = f"{BASE}:fhir:StructureDefinition:measurement"
SCORING_VERSION_EXTENSION = f"{BASE}:fhir:StructureDefinition:scoring-version"
GENDERS = {"female": "female", "male": "male", "not_stated": "unknown"}
ITEM_TYPES = {"choice": "choice", "text": "text", "boolean": "boolean", "date": "date", "group": "group"}


def resource_id(value: str) -> str:
    """A valid FHIR id ([A-Za-z0-9-.]{1,64}) from an instrument id and version."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", value)[:64]


def questionnaire_url(instrument: Instrument) -> str:
    return f"{BASE}:questionnaire:{instrument.id}"


def _coding(instrument: Instrument, item: dict[str, Any], option: dict[str, Any],
            lang: str) -> dict[str, Any]:
    return {"system": f"{BASE}:scale:{instrument.id}:{item['scale']}", "code": str(option["code"]),
            "display": text(option["label"], lang)}


def _fhir_item(instrument: Instrument, item: dict[str, Any], lang: str, d: Definition) -> dict[str, Any]:
    kind = item.get("type", "choice")
    out: dict[str, Any] = {"linkId": item["id"], "text": text(item["label"], lang)}
    if kind == "number":
        out["type"] = "integer" if item.get("integer") else "decimal"
    elif kind == "text":
        out["type"] = "text" if item.get("multiline") else "string"
        out["maxLength"] = item["max_length"]
    else:
        out["type"] = ITEM_TYPES[kind]
    if item.get("required", True) and "required_if" not in item and "show_if" not in item:
        out["required"] = True
    if kind == "choice":
        out["answerOption"] = [{"valueCoding": _coding(instrument, item, o, lang)}
                               for o in d.scale_options(item)]
    if kind == "group":
        out["repeats"] = True
        out["item"] = [_fhir_item(instrument, sub, lang, d) for sub in item["items"]]
    return out


def questionnaire(instrument: Instrument, lang: str = "da", definition: Definition | None = None
                  ) -> dict[str, Any]:
    """The Questionnaire resource of a definition (structure and project labels).

    ``definition``: an earlier version of the instrument's definition (default the current one).
    """
    d = definition or instrument.definition
    return {
        "resourceType": "Questionnaire",
        "id": resource_id(f"{d.id}-{d.version}"),
        "url": questionnaire_url(instrument),
        "version": d.version,
        "title": d.title(lang),
        "status": "active",
        "language": lang,
        "copyright": f"{d.licence['holder']}: {text(d.licence['terms'], lang)}",
        "item": [_fhir_item(instrument, item, lang, d) for item in d.items],
    }


def _answer(instrument: Instrument, item: dict[str, Any], value: Any, lang: str,
            d: Definition) -> list[dict[str, Any]]:
    kind = item.get("type", "choice")
    if kind == "choice":
        option = next((o for o in d.scale_options(item) if o["code"] == value), None)
        if option is None:
            return []
        return [{"valueCoding": _coding(instrument, item, option, lang)}]
    if kind == "number":
        return [{"valueInteger": int(value)} if item.get("integer") else {"valueDecimal": value}]
    if kind == "boolean":
        return [{"valueBoolean": bool(value)}]
    if kind == "date":
        return [{"valueDate": value}]
    if kind == "group":
        return []
    return [{"valueString": str(value)}]


def _answer_items(instrument: Instrument, items: list[dict[str, Any]], answers: dict[str, Any],
                  lang: str, d: Definition) -> list[dict[str, Any]]:
    out = []
    for item in items:
        if item["id"] not in answers:
            continue  # unanswered or declined: FHIR items carry answers only
        value = answers[item["id"]]
        if item.get("type") == "group":
            for entry in value or []:
                children = _answer_items(instrument, item["items"], entry or {}, lang, d)
                if children:
                    out.append({"linkId": item["id"], "item": children})
            continue
        answer = _answer(instrument, item, value, lang, d)
        if answer:
            out.append({"linkId": item["id"], "answer": answer})
    return out


def measurement_extension(number: int, kind: str, due_on: Any, family: dict[str, Any] | None
                          ) -> dict[str, Any]:
    """Measurement number (what the reports pair on), the planned wave's kind and due date, the family."""
    parts: list[dict[str, Any]] = [{"url": "number", "valueInteger": number},
                                   {"url": "kind", "valueCode": kind}]
    if due_on is not None:
        parts.append({"url": "due", "valueDate": due_on.isoformat()})
    if family is not None:
        parts.append({"url": "family", "valueReference": family})
    return {"url": MEASUREMENT_EXTENSION, "extension": parts}


def questionnaire_response(instrument: Instrument, *, response_id: str, answers: dict[str, Any],
                           authored: datetime | None, subject: dict[str, Any] | None,
                           instrument_version: str, source: dict[str, Any] | None = None,
                           extensions: list[dict[str, Any]] | None = None, lang: str = "da",
                           definition: Definition | None = None) -> dict[str, Any]:
    """One QuestionnaireResponse (status completed) referencing its Questionnaire by canonical URL.

    ``subject`` and ``source`` are references to the Patients the answers are about and who gave them.
    ``definition`` is the version of the definition the answers were given in (default the current
    one), so an answer is labelled with the wording and options of its own version.
    """
    d = definition or instrument.definition
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id(response_id),
        "questionnaire": f"{questionnaire_url(instrument)}|{instrument_version}",
        "status": "completed",
        "item": _answer_items(instrument, d.items, answers, lang, d),
    }
    if extensions:
        resource["extension"] = extensions
    if authored is not None:
        resource["authored"] = authored.isoformat()
    if subject:
        resource["subject"] = subject
    if source:
        resource["source"] = source
        resource["author"] = source
    if not resource["item"]:
        del resource["item"]
    return resource


ABSENT = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown",
                      "display": "Unknown"}]}


def score_observation(instrument: Instrument, *, response_id: str, scoring_version: str,
                      scores: dict[str, Any], bands: dict[str, Any], valid: bool,
                      authored: datetime | None, subject: dict[str, Any] | None,
                      performer: dict[str, Any] | None = None, lang: str = "da") -> dict[str, Any]:
    """The current score of a response as an Observation derived from its QuestionnaireResponse.

    ``method`` names the scoring version that produced the numbers; each
    declared score is a component (its band as the interpretation); a score
    that could not be computed has a data-absent reason.
    """
    d = instrument.definition
    components = []
    for spec in d.scores:
        name = spec["name"]
        component: dict[str, Any] = {"code": {"coding": [{
            "system": f"{BASE}:score:{instrument.id}", "code": name, "display": text(spec["label"], lang)}]}}
        value = scores.get(name)
        if value is None:
            component["dataAbsentReason"] = ABSENT
        else:
            component["valueQuantity"] = {"value": value}
        band = bands.get(name)
        if band is not None:
            label = (spec.get("bands") or {}).get(band)
            component["interpretation"] = [{"coding": [{
                "system": f"{BASE}:band:{instrument.id}:{name}", "code": str(band),
                **({"display": text(label, lang)} if label else {})}]}]
        components.append(component)
    components.append({"code": {"coding": [{"system": f"{BASE}:score:{instrument.id}", "code": "valid",
                                            "display": "valid scoring"}]}, "valueBoolean": bool(valid)})
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id(f"{response_id}-score"),
        "status": "final",
        "code": {"coding": [{"system": f"{BASE}:instrument", "code": instrument.id,
                             "display": d.title(lang)}]},
        "method": {"coding": [{"system": f"{BASE}:scoring-version:{instrument.id}", "code": scoring_version}],
                   "text": f"{instrument.id} scoring version {scoring_version}"},
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{resource_id(response_id)}"}],
        "component": components,
    }
    if authored is not None:
        resource["effectiveDateTime"] = authored.isoformat()
    if subject:
        resource["subject"] = subject
    if performer:
        resource["performer"] = [performer]
    return resource


class People:
    """Patients and family Groups of an export, with the references the responses use."""

    def __init__(self, session: Session, request: ExportRequest, person_ids: set[int]):
        self.identifiable = request.identifiable
        self.pseudo = None if request.identifiable else Pseudonymiser(session)
        self.patients: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.family_of: dict[int, int] = {}
        rows: Any = session.execute(
            select(Person, Family.case_ref, Municipality.name)
            .join(Family, Family.id == Person.family_id)
            .join(Municipality, Municipality.id == Person.municipality_id)
            .where(Person.id.in_(sorted(person_ids)))
            .order_by(Person.id)
        ) if person_ids else []
        for person, case_ref, municipality in rows:
            self.family_of[person.id] = person.family_id
            self.patients[person.id] = self._patient(person, case_ref, municipality)
            group = self.groups.get(person.family_id)
            if group is None:
                group = self.groups[person.family_id] = self._group(person, case_ref, municipality)
            group["member"].append({"entity": self.reference(person.id)})
        for group in self.groups.values():
            group["quantity"] = len(group["member"])

    def _patient(self, person: Person, case_ref: str, municipality: str) -> dict[str, Any]:
        if self.pseudo is None:
            value = f"{municipality}/{case_ref}/{person.name}"
            identifier = {"system": f"{BASE}:case-person", "value": value}
            rid = resource_id(f"person-{person.municipality_id}-{person.id}")
        else:
            value = self.pseudo(person.municipality_id, "person", person.id)
            identifier = {"system": f"{BASE}:pseudonym:person", "value": value}
            rid = resource_id(value)
        patient: dict[str, Any] = {"resourceType": "Patient", "id": rid, "identifier": [identifier],
                                   "gender": GENDERS.get(person.sex, "unknown")}
        if self.pseudo is None and person.birth_date is not None:
            patient["birthDate"] = person.birth_date.isoformat()
        return patient

    def _group(self, person: Person, case_ref: str, municipality: str) -> dict[str, Any]:
        if self.pseudo is None:
            identifier = {"system": f"{BASE}:case-reference", "value": f"{municipality}/{case_ref}"}
            rid = resource_id(f"family-{person.municipality_id}-{person.family_id}")
        else:
            value = self.pseudo(person.municipality_id, "family", person.family_id)
            identifier = {"system": f"{BASE}:pseudonym:family", "value": value}
            rid = resource_id(value)
        return {"resourceType": "Group", "id": rid, "identifier": [identifier], "type": "person",
                "actual": True, "name": "family" if self.pseudo is not None else case_ref, "member": []}

    def reference(self, person_id: int | None) -> dict[str, Any] | None:
        patient = self.patients.get(person_id) if person_id is not None else None
        if patient is None:
            return None
        return {"reference": f"Patient/{patient['id']}", "identifier": patient["identifier"][0]}

    def family_reference(self, person_id: int | None) -> dict[str, Any] | None:
        family_id = self.family_of.get(person_id) if person_id is not None else None
        group = self.groups.get(family_id) if family_id is not None else None
        if group is None:
            return None
        return {"reference": f"Group/{group['id']}", "identifier": group["identifier"][0]}


def ndjson(session: Session, instruments: list[Instrument], request: ExportRequest,
           lang: str = "da") -> Iterator[str]:
    """Questionnaires, Patients and family Groups, then every submitted response of the instruments.

    Each response with scores is followed by an Observation of its current
    score (see :mod:`formengine.current_score`), naming its scoring version.
    """
    by_id = {i.id: i for i in instruments}
    scope = [Response.status == "submitted", not_practice(), Response.instrument_id.in_(list(by_id)),
             Response.municipality_id.is_not(None)]
    if request.municipality_ids is not None:
        scope.append(Response.municipality_id.in_(request.municipality_ids))
    # A response answered in an earlier version of a definition references and is labelled with that
    # version's Questionnaire (its wording and options), not the current one.
    definitions: dict[tuple[str, str], Definition] = {(i.id, i.version): i.definition for i in instruments}
    for iid, version in session.execute(
            select(Response.instrument_id, Response.instrument_version).where(*scope).distinct()):
        if (iid, version) not in definitions:
            definitions[(iid, version)] = definition_for(session, by_id[iid], version)
    for instrument in instruments:
        for (iid, version), definition in definitions.items():
            # An old version without a stored copy is labelled with the current one and has no
            # Questionnaire of its own.
            if iid == instrument.id and definition.version == version:
                yield json.dumps(questionnaire(instrument, lang, definition), ensure_ascii=False) + "\n"
    person_ids: set[int] = set()
    for column in (Response.person_id, Response.about_person_id):
        person_ids.update(pid for pid in session.scalars(select(column).where(*scope).distinct())
                          if pid is not None)
    people = People(session, request, person_ids)
    for patient in people.patients.values():
        yield json.dumps(patient, ensure_ascii=False) + "\n"
    for group in people.groups.values():
        yield json.dumps(group, ensure_ascii=False) + "\n"
    pseudo = people.pseudo
    stmt = (
        select(Response.id, Response.uuid, Response.instrument_id, Response.instrument_version,
               Response.municipality_id, Response.person_id, Response.about_person_id, Response.answers,
               Response.submitted_at, Wave.number, Wave.kind, Wave.due_on,
               Score.scoring_version, Score.valid, Score.scores, Score.bands)
        .outerjoin(Wave, Wave.id == Response.wave_id)
        .outerjoin(Score, Score.id == current_score_id())
        .where(*scope)
        .order_by(Response.id)
    )
    for (rid, uuid, iid, iversion, mid, pid, about, answers, submitted, number, kind, due_on, sversion,
         valid, scores, bands) in session.execute(stmt.execution_options(yield_per=2000)):
        response_id = uuid if pseudo is None else pseudo(mid, "response", rid)
        subject = people.reference(subject_of(pid, about))
        source = people.reference(pid)
        extensions = []
        if number is not None:
            extensions.append(measurement_extension(number, kind, due_on, people.family_reference(pid)))
        if sversion is not None:
            extensions.append({"url": SCORING_VERSION_EXTENSION, "valueString": sversion})
        yield json.dumps(questionnaire_response(
            by_id[iid], response_id=response_id, answers=answers or {}, authored=submitted,
            subject=subject, source=source, instrument_version=iversion, extensions=extensions, lang=lang,
            definition=definitions.get((iid, iversion)),
        ), ensure_ascii=False) + "\n"
        if sversion is not None and by_id[iid].definition.scores:
            yield json.dumps(score_observation(
                by_id[iid], response_id=response_id, scoring_version=sversion, scores=scores or {},
                bands=bands or {}, valid=bool(valid), authored=submitted, subject=subject,
                performer=source, lang=lang,
            ), ensure_ascii=False) + "\n"
