"""Audit trail: where each event came from, a hash chain over every event, append-only on SQLite too.

Existing events are chained in id order. SQLite gets triggers that refuse
UPDATE and DELETE on ``audit_event`` (PostgreSQL has had one since 0100) and
both databases refuse DELETE of the chain's head row.

Revision ID: 0301_audit_chain
Revises: 0300_session_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0301_audit_chain"
down_revision = "0300_session_version"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = {
    "audit_event_no_update": "BEFORE UPDATE ON audit_event",
    "audit_event_no_delete": "BEFORE DELETE ON audit_event",
    "audit_chain_no_delete": "BEFORE DELETE ON audit_chain",
}


def upgrade() -> None:
    from formengine.audit import GENESIS, event_hash
    from formengine.models.base import JSONType, UTCDateTime

    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=45), server_default="", nullable=False))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    # Chain the events written so far (the append-only trigger is lifted for this one pass).
    if postgresql:
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    # The columns as they are at this revision (the model may grow later).
    table = sa.table(
        "audit_event", sa.column("id", sa.Integer), sa.column("at", UTCDateTime),
        sa.column("user_id", sa.Integer), sa.column("username", sa.String),
        sa.column("municipality_id", sa.Integer), sa.column("action", sa.String),
        sa.column("entity", sa.String), sa.column("entity_id", sa.String), sa.column("detail", JSONType),
        sa.column("address", sa.String), sa.column("prev_hash", sa.String), sa.column("hash", sa.String),
    )
    previous = GENESIS
    count = 0
    for event in bind.execute(sa.select(table).order_by(table.c.id)).all():
        digest = event_hash(event, previous)
        bind.execute(table.update().where(table.c.id == event.id).values(prev_hash=previous, hash=digest))
        previous = digest
        count += 1
    if postgresql:
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)

    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )
    op.bulk_insert(chain, [{"id": 1, "last_hash": previous, "events": count}])

    if postgresql:
        op.execute(
            """
            CREATE TRIGGER audit_chain_no_delete
            BEFORE DELETE ON audit_chain
            FOR EACH ROW EXECUTE FUNCTION formengine_audit_append_only()
            """
        )
    else:
        for name, when in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN "
                       "SELECT RAISE(ABORT, 'the audit trail is append-only'); END")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_chain_no_delete ON audit_chain")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("audit_chain")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("address")
