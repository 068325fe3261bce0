"""Score history and rescoring runs.

A response may now have several score rows under one scoring version (a norm
pack installed, then removed, rescored each time): the unique constraint on
(response_id, scoring_version) goes, and the newest row is the current score.
Each row records the scoring context it saw (``context_key``) and the
rescoring run that added it; ``rescore_run`` holds resumable runs.

Revision ID: 0500_score_history
Revises: 0402_plugin_settings
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import formengine.models.base

revision = "0500_score_history"
down_revision = "0402_plugin_settings"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rescore_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instruments", JSON, nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lock", sa.String(length=8), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("created_at", formengine.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", formengine.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", formengine.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", formengine.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"],
                                name=op.f("fk_rescore_run_municipality_id_municipality")),
        sa.ForeignKeyConstraint(["requested_by"], ["user_account.id"],
                                name=op.f("fk_rescore_run_requested_by_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rescore_run")),
        sa.UniqueConstraint("lock", name=op.f("uq_rescore_run_lock")),
    )
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_score_response_id_scoring_version"), type_="unique")
        batch_op.add_column(sa.Column("context_key", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("rescore_run_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_score_rescore_run_id_rescore_run"), "rescore_run",
                                    ["rescore_run_id"], ["id"])


def downgrade() -> None:
    # Keeps only the newest row per response and scoring version, as the old constraint demands.
    op.execute("DELETE FROM score WHERE id NOT IN "
               "(SELECT max(id) FROM score GROUP BY response_id, scoring_version)")
    with op.batch_alter_table("score", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_score_rescore_run_id_rescore_run"), type_="foreignkey")
        batch_op.drop_column("rescore_run_id")
        batch_op.drop_column("context_key")
        batch_op.create_unique_constraint(batch_op.f("uq_score_response_id_scoring_version"),
                                          ["response_id", "scoring_version"])
    op.drop_table("rescore_run")
