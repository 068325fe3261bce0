"""Scores record a plugin failure ("scoring failed") and the plugin settings scoring saw.

Revision ID: 0400_score_error
Revises: 0100_cases_audit
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0400_score_error"
down_revision = "0100_cases_audit"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("options", JSON, nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_column("options")
        batch_op.drop_column("error")
