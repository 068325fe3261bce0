"""Audit trail is append-only in the database too (PostgreSQL): raw UPDATE and DELETE are refused.

The ORM already refuses changes to AuditEvent; this trigger also stops raw SQL
from any client. TRUNCATE (owner only; used to empty test databases) is not
affected. SQLite has no separate roles, so nothing is added there.

Revision ID: 0100_cases_audit
Revises: 0001
"""

from alembic import op

revision = "0100_cases_audit"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION formengine_audit_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_event_append_only
        BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION formengine_audit_append_only()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION IF EXISTS formengine_audit_append_only()")
