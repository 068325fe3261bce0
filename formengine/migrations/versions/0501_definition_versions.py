"""A copy of each definition version that responses were answered with.

Revision ID: 0501_definition_versions
Revises: 0500_score_history
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import formengine.models.base

revision = "0501_definition_versions"
down_revision = "0500_score_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "definition_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("definition", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("recorded_at", formengine.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_version")),
        sa.UniqueConstraint("instrument_id", "version",
                            name=op.f("uq_definition_version_instrument_id_version")),
    )


def downgrade() -> None:
    op.drop_table("definition_version")
