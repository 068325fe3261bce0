"""Repeatable groups (LØFT's goals): a column per entry and field, entries on review, min_repeat entries."""

from __future__ import annotations

import json

from sqlalchemy import select

from formengine.db import get_db
from formengine.exports.dataset import ExportRequest, codebook_rows, iter_long_rows, long_layout
from formengine.exports.service import build_export
from formengine.imports import import_responses, read_csv, read_jsonl
from formengine.models import Response
from formengine.registry import get_registry

LOFT = "loft_worksheet"
GOALS = [
    {"goal_no": 1, "goal": "Morgener uden skænderier", "scaling": 3, "scaled_on": "2024-02-01"},
    {"goal_no": 2, "goal": "Mads kommer i skole", "scaling": 6},
    {"goal_no": 3, "goal": "Mor får hjælp; \"en\" aflastning", "scaling": 10},
]


def _import(app, goals, family="LØFT-1"):
    line = {"municipality": "Gruppe Kommune", "family": family, "person": "mor", "role": "parent",
            "birth_date": "1984-02-03", "sex": "female", "wave": 1, "instrument": LOFT,
            "answers": {"goals": goals, "next_step": "Ringe til skolen"}, "mode": "paper",
            "submitted_at": "2024-02-01T10:00:00+01:00"}
    with get_db(app).session() as session:
        import_responses(session, get_registry(app), read_jsonl(json.dumps(line) + "\n"),
                         create_municipalities=True)
        session.commit()


def test_a_group_exports_one_column_per_entry_and_field_and_reads_back(app):
    _import(app, GOALS)
    _import(app, GOALS[:1], family="LØFT-2")
    registry = get_registry(app)
    instrument = registry.get(LOFT)
    with get_db(app).session() as session:
        request = ExportRequest(instrument_ids=(LOFT,), identifiable=True)
        columns = long_layout(session, instrument, request)
        names = [c.name for c in columns]
        rows = [dict(zip(names, row, strict=True))
                for row in iter_long_rows(session, instrument, request, columns)]
        book = {row[0]: row for row in codebook_rows(columns)}
        export = build_export(session, registry, request, layout="long", fmt="csv")
        text = "".join(c.decode("utf-8") if isinstance(c, bytes) else c for c in export.chunks)
    assert "goals" not in names
    assert names[names.index("goals_n"):names.index("goals_n") + 5] == [
        "goals_n", "goals_1_goal_no", "goals_1_goal", "goals_1_scaling", "goals_1_scaled_on"]
    assert "goals_3_scaled_on" in names and "goals_4_goal" not in names  # the most entries exported: 3
    three = next(r for r in rows if r["goals_n"] == 3)
    assert (three["goals_2_goal"], three["goals_2_scaling"], three["goals_2_scaled_on"]) == (
        "Mads kommer i skole", 6, None)
    assert three["goals_3_scaling"] == 10
    one = next(r for r in rows if r["goals_n"] == 1)
    assert one["goals_2_goal"] is None and one["goals_1_scaling"] == 3
    assert book["goals_n"][1].endswith("antal punkter (højst 3 i dette udtræk)")
    assert " 2: " in book["goals_2_scaling"][1]
    assert book["goals_2_scaling"][4].startswith("0=")  # the scale's value labels per entry

    # the CSV reads back into the same answers (the import takes the long layout)
    with get_db(app).session() as session:
        records = [record for _, record in read_csv(text, registry)]
    assert not any(isinstance(r, Exception) for r in records)
    back = sorted((r["answers"]["goals"] for r in records), key=len)
    assert back == [GOALS[:1], GOALS]


def test_a_group_starts_with_min_repeat_entries_and_the_review_shows_every_entry(make_app):
    from tests.conftest import csrf_token, load_demo_into, login
    from tests.test_adversarial import current_version, new_draft

    app = make_app()
    load_demo_into(app)
    team = app.test_client()
    assert login(team, "team-a").status_code == 302
    token = csrf_token(team.get("/account/pin").get_data(as_text=True))
    uuid = new_draft(app, LOFT)
    page = team.get(f"/fill/{uuid}?page=goals_page").get_data(as_text=True)
    # LØFT declares min_repeat 1: the first goal is there to fill in, no "add" needed
    assert 'name="goals__count" value="1"' in page and 'name="goals__0__goal"' in page

    def save(data):
        return team.post(f"/fill/{uuid}/save", data={"csrf_token": token, "page": "goals_page",
                                                      "version": str(current_version(app, uuid)), **data})

    entry = {"goals__count": "1", "goals__0__goal_no": "1", "goals__0__goal": "Rolige morgener",
             "goals__0__scaling": "4"}
    assert save({**entry, "go": "add:goals"}).status_code == 303
    assert save({**entry, "goals__count": "2", "goals__1__goal_no": "2", "goals__1__goal": "Skolen",
                 "goals__1__scaling": "7", "go": "stay"}).status_code == 303
    review = team.get(f"/fill/{uuid}/review").get_data(as_text=True)
    assert "Rolige morgener" in review and "Skolen" in review
    assert review.index("Rolige morgener") < review.index("Skolen")
    assert 'class="review-entries"' in review
    # with every entry removed the group is unanswered again, and offers its min_repeat entry
    assert save({"go": "remove:goals:1"}).status_code == 303
    assert save({"go": "remove:goals:0"}).status_code == 303
    with get_db(app).session() as session:
        assert "goals" not in session.scalar(select(Response.answers).where(Response.uuid == uuid))
    page = team.get(f"/fill/{uuid}?page=goals_page").get_data(as_text=True)
    assert 'name="goals__count" value="1"' in page and "Rolige morgener" not in page
