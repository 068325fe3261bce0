"""Shared fixtures: an app per test on SQLite (and PostgreSQL when FORMENGINE_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import gc
import os
import re

import pytest

from formengine import create_app
from formengine.db import Database, get_db
from formengine.demo import load_demo
from formengine.registry import get_registry
from formengine.testing import reset_database

# Variables that steer the test run itself; every other FORMENGINE_* setting in the shell that starts
# the tests (a developer's database, plugin folder...) would reach the apps and CLIs the tests build.
RUN_SETTINGS = {"FORMENGINE_TEST_DATABASE_URL", "FORMENGINE_REQUIRE_BROWSER", "FORMENGINE_CHROMIUM",
                "FORMENGINE_TEST_ARTIFACTS"}


def pytest_sessionstart(session):
    for name in [n for n in os.environ if n.startswith("FORMENGINE_") and n not in RUN_SETTINGS]:
        del os.environ[name]


def pytest_collection_finish(session):
    """What is imported and collected by now lives for the whole run: move it out of the garbage
    collector's sight, so the collection in each database reset scans only what the tests made."""
    gc.collect()
    gc.freeze()


BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("FORMENGINE_TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """One migrated database per backend for the whole run; emptied before each test.

    Under pytest-xdist each worker gets a PostgreSQL database of its own, named after
    FORMENGINE_TEST_DATABASE_URL's with the worker id appended, dropped at the end.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'formengine-test.db'}"
    else:
        url = os.environ["FORMENGINE_TEST_DATABASE_URL"]
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:
            url = _worker_database(url, worker)
            request.addfinalizer(lambda: _drop_database(url))
    db = Database(url)
    db.upgrade()
    db.engine.dispose()
    return url


def _admin_connection(url: str):
    """An autocommit psycopg connection to the database that ``url`` names (CREATE DATABASE needs one)."""
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql")
    return psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True)


def _worker_database(url: str, worker: str) -> str:
    from psycopg import sql
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    with _admin_connection(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    from psycopg import sql
    from sqlalchemy.engine import make_url

    base_url = os.environ["FORMENGINE_TEST_DATABASE_URL"]
    name = make_url(url).database
    with _admin_connection(base_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
            # The test client and the browser tests talk plain http.
            "SESSION_COOKIE_SECURE": False,
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
