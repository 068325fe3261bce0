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


def test_the_migrations_have_exactly_one_head(app):
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(get_db(app).alembic_config()).get_heads()
    assert len(heads) == 1, f"re-chain the newest migration so there is one head, not {sorted(heads)}"
