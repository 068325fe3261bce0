"""A municipality's values for the settings plugins declare (e.g. WHO-5's band scheme).

Revision ID: 0402_plugin_settings
Revises: 0250_about_self
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import formengine.models.base

revision = "0402_plugin_settings"
down_revision = "0250_about_self"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plugin_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("changed_at", formengine.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"],
                                name=op.f("fk_plugin_setting_municipality_id_municipality")),
        sa.ForeignKeyConstraint(["changed_by"], ["user_account.id"],
                                name=op.f("fk_plugin_setting_changed_by_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_setting")),
        sa.UniqueConstraint("municipality_id", "instrument_id", "name",
                            name=op.f("uq_plugin_setting_municipality_id_instrument_id_name")),
    )
    with op.batch_alter_table("plugin_setting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plugin_setting_municipality_id"), ["municipality_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("plugin_setting")
