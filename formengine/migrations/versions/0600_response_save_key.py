"""The idempotency key of the last keyed save applied to a draft (the tablet's answer queue).

Revision ID: 0600_save_key
Revises: 0301_audit_chain
"""

import sqlalchemy as sa
from alembic import op

revision = "0600_save_key"
down_revision = "0301_audit_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("response") as batch_op:
        batch_op.add_column(sa.Column("last_save_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("response") as batch_op:
        batch_op.drop_column("last_save_key")
