"""Every route, every parameter, malformed: a clear 400/404 (or a redirect), never a 5xx.

The walk is built from ``app.url_map`` and from what each view reads, so a
route or parameter added later is walked without editing this file: path
arguments are replaced one at a time with malformed values, and every query or
form parameter the view (or a helper it calls) reads is sent malformed, one
parameter at a time, while the others stay valid.
"""

from __future__ import annotations

import inspect
import re
import types
from datetime import date
from typing import Any

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import select

from formengine.db import get_db
from formengine.models import Consent, Family, Municipality, Person, Response, User, Wave
from formengine.models.catalogue import PlanRule
from tests.conftest import load_demo_into, login

# What a hostile client or a clumsy hand sends: superscripts and other non-ASCII digits
# (which str.isdigit() accepts and int() does not), ids beyond 32 and 64 bits, NUL,
# over-long text, impossible dates, negative numbers.
BAD_VALUES = ["²", "-1", "2147483648", "9" * 40, "\x00", "x" * 300, "2026-02-30"]
BAD_PATH_INT = ["²", "٣", "0", "2147483648", "9223372036854775808", "9" * 40]
BAD_PATH_STR = ["²", "%00", "x" * 300, "..", "a%20b", "00000000-0000-0000-0000-00000000000g"]

PARAM_RE = re.compile(
    r"""(?:request\.(?:args|form|values)|\bargs|\bform)\.get(?:list)?\(\s*["'](\w+)["']"""
    r"""|params\.\w+\(\s*["'](\w+)["']"""
    r"""|request\.(?:args|form|values)\[\s*["'](\w+)["']""")


def _reads(func: Any, seen: set[Any], depth: int = 0) -> set[str]:
    """Parameter names ``func`` reads, following the formengine functions and forms it names."""
    func = inspect.unwrap(func)
    if func in seen or depth > 4:
        return set()
    seen.add(func)
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return set()
    names = {n for groups in PARAM_RE.findall(source) for n in groups if n}
    module_globals = getattr(func, "__globals__", {})
    for name in func.__code__.co_names:
        target = module_globals.get(name)
        if isinstance(target, types.ModuleType):
            continue
        if isinstance(target, type) and issubclass(target, FlaskForm):
            names |= {field for field in dir(target)
                      if type(getattr(target, field, None)).__name__ == "UnboundField"}
        elif isinstance(target, types.FunctionType) and target.__module__.startswith("formengine.web"):
            names |= _reads(target, seen, depth + 1)
    return names


def _valid_path_values(app) -> dict[str, str]:
    """An existing, visible record for each kind of path argument (Demo Kommune A)."""
    with get_db(app).session() as session:
        municipality = session.scalar(select(Municipality).where(Municipality.name == "Demo Kommune A"))
        family = session.scalar(select(Family).where(Family.municipality_id == municipality.id)
                                .order_by(Family.id))
        person = session.scalar(select(Person).where(Person.family_id == family.id).order_by(Person.id))
        return {
            "family_id": str(family.id),
            "person_id": str(person.id),
            "consent_id": str(session.scalar(select(Consent.id).where(Consent.person_id == person.id))),
            "wave_id": str(session.scalar(select(Wave.id).where(
                Wave.municipality_id == family.municipality_id))),
            "rule_id": str(session.scalar(select(PlanRule.id).where(
                PlanRule.municipality_id == family.municipality_id))),
            "user_id": str(session.scalar(select(User.id).where(User.username == "team-a"))),
            "response_uuid": session.scalar(select(Response.uuid).where(
                Response.municipality_id == family.municipality_id)),
            "instrument_id": "who5",
            "alert_id": str(_an_alert(session, family.municipality_id)),
            "run_id": str(_a_rescore_run(session, family.municipality_id)),
        }


def _a_rescore_run(session, municipality_id: int) -> int:
    """A finished rescoring preview of the municipality."""
    from formengine.models import RescoreRun

    run = RescoreRun(instruments=["who5"], municipality_id=municipality_id, dry_run=True, status="done",
                     summary={"examined": 1, "unchanged": 1})
    session.add(run)
    session.flush()
    return run.id


def _an_alert(session, municipality_id: int) -> int:
    """An open alert of the municipality (one on a submitted response, made if the demo has none)."""
    from formengine.models import Alert

    existing = session.scalar(select(Alert.id).where(Alert.municipality_id == municipality_id))
    if existing is not None:
        return existing
    submitted = session.scalar(select(Response).where(Response.municipality_id == municipality_id,
                                                      Response.status == "submitted"))
    alert = Alert(response_id=submitted.id, municipality_id=municipality_id,
                  instrument_id=submitted.instrument_id, code="walk_check", message="Follow up.")
    session.add(alert)
    session.flush()
    return alert.id


def _placeholder(argument: str) -> str:
    return r"<(?:[^:<>]+:)?" + argument + ">"


def _walk(app, username: str) -> list[str]:
    client = app.test_client()
    assert login(client, username).status_code == 302
    valid = _valid_path_values(app)
    failures: list[str] = []

    def send(method: str, path: str, data: dict[str, str] | None = None) -> None:
        nonlocal client
        with client.session_transaction() as session:
            session.pop("handover", None)  # a hand-over locks the session to one form
        kwargs: dict[str, Any] = {"query_string": data} if method == "GET" else {"data": data}
        try:
            response = client.open(path, method=method, **kwargs)
        except Exception as exc:  # noqa: BLE001 - TESTING propagates what would be a 500
            failures.append(f"{username} {method} {path} {data!r}: {type(exc).__name__}: {exc}"[:300])
            return
        if response.status_code >= 500:
            failures.append(f"{username} {method} {path} {data!r}: {response.status_code}")
        if response.status_code in (302, 401) and "/login" in response.headers.get("Location", "/login"):
            client = app.test_client()
            assert login(client, username).status_code == 302

    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) > 40
    for rule in rules:
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        arguments = {a: valid[a] for a in rule.arguments}
        base = rule.rule
        for argument, value in arguments.items():
            base = re.sub(_placeholder(argument), value, base)
        for argument in rule.arguments:
            bad_values = BAD_PATH_INT if f"int:{argument}>" in rule.rule else BAD_PATH_STR
            for bad in bad_values:
                path = re.sub(_placeholder(argument), bad, rule.rule)
                for other, value in arguments.items():
                    path = re.sub(_placeholder(other), value, path)
                for method in methods:
                    send(method, path)
        names = sorted(_reads(app.view_functions[rule.endpoint], set()) - {"csrf_token"})
        for name in names:
            for bad in BAD_VALUES:
                for method in methods:
                    send(method, base, {name: bad})
        for method in methods:
            send(method, base, {name: BAD_VALUES[0] for name in names})
    return failures


@pytest.mark.parametrize("username", ["admin-a", "sysadmin"])
def test_no_malformed_parameter_gives_a_server_error(make_app, username):
    app = make_app(WTF_CSRF_ENABLED=False)
    load_demo_into(app, cases=True, today=date(2025, 6, 2))
    failures = _walk(app, username)
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"


def test_the_walk_reads_the_parameters_of_the_views(make_app):
    """The walk finds what views read; a walk that found nothing would prove nothing."""
    app = make_app()
    reads = {rule.endpoint: _reads(app.view_functions[rule.endpoint], set())
             for rule in app.url_map.iter_rules()}
    assert {"before", "municipality"} <= reads["admin.audit_trail"]
    assert {"username", "password"} <= reads["auth.login"]
    assert "municipality" in reads["exports.download"]
    assert {"role", "enrolled_from"} <= reads["reports.progression"]
