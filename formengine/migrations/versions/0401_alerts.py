"""Alerts: alert flags of submitted responses, open until acknowledged with a note.

Revision ID: 0401_alerts
Revises: 0400_score_error
"""

import sqlalchemy as sa
from alembic import op

import formengine.models.base

revision = "0401_alerts"
down_revision = "0400_score_error"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("family_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("instrument_id", sa.String(length=26), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("raised_at", formengine.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", formengine.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", formengine.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["response_id"], ["response.id"], name=op.f("fk_alert_response_id_response")),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"],
                                name=op.f("fk_alert_municipality_id_municipality")),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"], name=op.f("fk_alert_family_id_family")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_alert_person_id_person")),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["user_account.id"],
                                name=op.f("fk_alert_acknowledged_by_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("response_id", "code", name=op.f("uq_alert_response_id_code")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_open", ["municipality_id", "acknowledged_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_response_id"), ["response_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_family_id"), ["family_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_table("alert")
