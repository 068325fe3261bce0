"""Practice is practice: only enabled instruments, never exported, deleted after a while."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import delete, func, select

from formengine.cli import main
from formengine.db import get_db
from formengine.exports.dataset import ExportRequest
from formengine.exports.service import build_export
from formengine.models import InstrumentSetting, Municipality, Response, utcnow
from formengine.registry import get_registry
from tests.conftest import csrf_token
from tests.test_exports import _content


def _count(app) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(Response))


def test_practice_only_for_enabled_instruments(app, login_as):
    client = login_as("team-a")
    with get_db(app).session() as session:
        a = session.scalar(select(Municipality).where(Municipality.name == "Demo Kommune A"))
        session.execute(delete(InstrumentSetting).where(InstrumentSetting.municipality_id == a.id,
                                                        InstrumentSetting.instrument_id == "pss"))
    page = client.get("/instruments").get_data(as_text=True)
    assert '/fill/start/who5"' in page and '/fill/start/pss"' not in page
    refused = client.post("/fill/start/pss", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 403
    assert _count(app) == 0
    started = client.post("/fill/start/who5", data={"csrf_token": csrf_token(page)})
    assert started.status_code == 303
    step = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "Øvelsesudfyldning" in step or "Practice fill" in step  # visibly marked
    assert _count(app) == 1


def test_practice_is_never_exported_and_is_purged(app, login_as):
    client = login_as("team-a")
    page = client.get("/instruments").get_data(as_text=True)
    client.post("/fill/start/who5", data={"csrf_token": csrf_token(page)})
    registry = get_registry(app)
    with get_db(app).session() as session:
        practice = session.scalars(select(Response)).one()
        practice.status = "submitted"  # even a submitted practice fill stays out of exports
        practice.answers = {f"who5_{i}": 3 for i in range(1, 6)}
        practice.submitted_at = utcnow()
        export = build_export(session, registry, ExportRequest(instrument_ids=("who5",)),
                              layout="long", fmt="csv")
        rows = list(csv.DictReader(io.StringIO(_content(export).decode("utf-8-sig")), delimiter=";"))
        assert rows == []
    runner = app.test_cli_runner()
    kept = runner.invoke(main, ["purge-practice"])
    assert kept.exit_code == 0 and "Deleted 0 practice fill(s)." in kept.output
    with get_db(app).session() as session:
        session.scalars(select(Response)).one().updated_at = utcnow() - timedelta(days=8)
    purged = runner.invoke(main, ["purge-practice"])
    assert purged.exit_code == 0 and "Deleted 1 practice fill(s)." in purged.output
    assert _count(app) == 0
