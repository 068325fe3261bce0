"""Shared fixtures: an app per test on SQLite (and PostgreSQL when FORMENGINE_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import re

import pytest

from formengine import create_app
from formengine.db import Database, get_db
from formengine.demo import load_demo
from formengine.registry import get_registry
from formengine.testing import reset_database

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("FORMENGINE_TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """One migrated database per backend for the whole run; emptied before each test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'formengine-test.db'}"
    else:
        url = os.environ["FORMENGINE_TEST_DATABASE_URL"]
    db = Database(url)
    db.upgrade()
    db.engine.dispose()
    return url


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app with extra config (e.g. EXTRA_PLUGINS); the database starts empty."""
    created = []

    def factory(**config):
        settings = {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "test-secret",
        }
        settings.update(config)
        if not created:
            # empty before the app starts: starting compares plugins with the stored responses
            db = Database(database_url)
            reset_database(db.engine)
            db.engine.dispose()
        app = create_app(settings)
        created.append(app)
        return app

    yield factory
    for app in created:
        get_db(app).engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def demo(app):
    """The demo municipalities and logins."""
    load_demo_into(app)
    return app


def load_demo_into(app, **options):
    """``load_demo`` inside the app's context, so its logins are hashed the way that app hashes (cheaply
    under TESTING)."""
    with app.app_context(), get_db(app).session() as session:
        return load_demo(session, get_registry(app), **options)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = "demo"):
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture
def login_as(client, demo):
    def do(username: str):
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do
