"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from formengine.db import get_db
from formengine.models import Base


def test_models_and_migrations_agree(app):
    engine = get_db(app).engine
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"add an Alembic migration for: {diff}"


def test_upgrade_is_idempotent(app):
    db = get_db(app)
    db.upgrade()
    db.upgrade()
    assert db.has_schema()
