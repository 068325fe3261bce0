"""FHIR R4 resources as plain JSON: a Questionnaire per definition, a QuestionnaireResponse per response.

The export is NDJSON (one resource per line, as in FHIR bulk data): every
Questionnaire first, then the responses. Texts are the project labels in
Danish. Subjects are referenced by identifier only — the keyed pseudonym, or
the import reference in an identifiable export — never by CPR number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from formengine.current_score import current_score_id
from formengine.exports.dataset import ExportRequest
from formengine.exports.pseudonyms import Pseudonymiser
from formengine.instruments import Instrument, text
from formengine.models import Person, Response, Score
from formengine.practice import not_practice

BASE = "urn:formengine"
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


def _fhir_item(instrument: Instrument, item: dict[str, Any], lang: str) -> dict[str, Any]:
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
                               for o in instrument.definition.scale_options(item)]
    if kind == "group":
        out["repeats"] = True
        out["item"] = [_fhir_item(instrument, sub, lang) for sub in item["items"]]
    return out


def questionnaire(instrument: Instrument, lang: str = "da") -> dict[str, Any]:
    """The Questionnaire resource of a definition (structure and project labels)."""
    d = instrument.definition
    return {
        "resourceType": "Questionnaire",
        "id": resource_id(f"{d.id}-{d.version}"),
        "url": questionnaire_url(instrument),
        "version": d.version,
        "title": d.title(lang),
        "status": "active",
        "language": lang,
        "copyright": f"{d.licence['holder']}: {text(d.licence['terms'], lang)}",
        "item": [_fhir_item(instrument, item, lang) for item in d.items],
    }


def _answer(instrument: Instrument, item: dict[str, Any], value: Any, lang: str) -> list[dict[str, Any]]:
    kind = item.get("type", "choice")
    if kind == "choice":
        option = next((o for o in instrument.definition.scale_options(item) if o["code"] == value), None)
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
                  lang: str) -> list[dict[str, Any]]:
    out = []
    for item in items:
        if item["id"] not in answers:
            continue  # unanswered or declined: FHIR items carry answers only
        value = answers[item["id"]]
        if item.get("type") == "group":
            for entry in value or []:
                children = _answer_items(instrument, item["items"], entry or {}, lang)
                if children:
                    out.append({"linkId": item["id"], "item": children})
            continue
        answer = _answer(instrument, item, value, lang)
        if answer:
            out.append({"linkId": item["id"], "answer": answer})
    return out


def questionnaire_response(instrument: Instrument, *, response_id: str, answers: dict[str, Any],
                           authored: datetime | None, subject: str, subject_system: str,
                           instrument_version: str, lang: str = "da") -> dict[str, Any]:
    """One QuestionnaireResponse (status completed) referencing its Questionnaire by canonical URL."""
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id(response_id),
        "questionnaire": f"{questionnaire_url(instrument)}|{instrument_version}",
        "status": "completed",
        "item": _answer_items(instrument, instrument.definition.items, answers, lang),
    }
    if authored is not None:
        resource["authored"] = authored.isoformat()
    if subject:
        resource["subject"] = {"identifier": {"system": subject_system, "value": subject}}
    if not resource["item"]:
        del resource["item"]
    return resource


ABSENT = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown",
                      "display": "Unknown"}]}


def score_observation(instrument: Instrument, *, response_id: str, scoring_version: str,
                      scores: dict[str, Any], bands: dict[str, Any], valid: bool,
                      authored: datetime | None, subject: str, subject_system: str,
                      lang: str = "da") -> dict[str, Any]:
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
        resource["subject"] = {"identifier": {"system": subject_system, "value": subject}}
    return resource


def ndjson(session: Session, instruments: list[Instrument], request: ExportRequest,
           lang: str = "da") -> Iterator[str]:
    """Questionnaires, then every submitted response of the instruments, one JSON object per line.

    Each response with scores is followed by an Observation of its current
    score (see :mod:`formengine.current_score`), naming its scoring version.
    """
    for instrument in instruments:
        yield json.dumps(questionnaire(instrument, lang), ensure_ascii=False) + "\n"
    pseudo = None if request.identifiable else Pseudonymiser(session)
    system = f"{BASE}:person-reference" if request.identifiable else f"{BASE}:pseudonym:person"
    respondent = aliased(Person)
    by_id = {i.id: i for i in instruments}
    stmt = (
        select(Response.id, Response.uuid, Response.instrument_id, Response.instrument_version,
               Response.municipality_id, Response.person_id, respondent.name, Response.answers,
               Response.submitted_at, Score.scoring_version, Score.valid, Score.scores, Score.bands)
        .outerjoin(respondent, respondent.id == Response.person_id)
        .outerjoin(Score, Score.id == current_score_id())
        .where(Response.status == "submitted", not_practice(), Response.instrument_id.in_(list(by_id)),
               Response.municipality_id.is_not(None))
        .order_by(Response.id)
    )
    if request.municipality_ids is not None:
        stmt = stmt.where(Response.municipality_id.in_(request.municipality_ids))
    for (rid, uuid, iid, iversion, mid, pid, pname, answers, submitted, sversion, valid, scores,
         bands) in session.execute(stmt.execution_options(yield_per=2000)):
        subject = (pname or "") if pseudo is None else pseudo(mid, "person", pid)
        response_id = uuid if pseudo is None else pseudo(mid, "response", rid)
        yield json.dumps(questionnaire_response(
            by_id[iid], response_id=response_id, answers=answers or {}, authored=submitted,
            subject=subject, subject_system=system, instrument_version=iversion, lang=lang,
        ), ensure_ascii=False) + "\n"
        if sversion is not None and by_id[iid].definition.scores:
            yield json.dumps(score_observation(
                by_id[iid], response_id=response_id, scoring_version=sversion, scores=scores or {},
                bands=bands or {}, valid=bool(valid), authored=submitted, subject=subject,
                subject_system=system, lang=lang,
            ), ensure_ascii=False) + "\n"
