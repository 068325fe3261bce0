"""A per-user session version, so logout and an administrator can end every copy of a session.

Revision ID: 0300_session_version
Revises: 0501_definition_versions
"""

import sqlalchemy as sa
from alembic import op

revision = "0300_session_version"
down_revision = "0501_definition_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_version")
