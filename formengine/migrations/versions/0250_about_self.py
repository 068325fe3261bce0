"""A self-report is about its respondent, whichever route stored it.

Imported self-reports were stored about nobody (``about_person_id`` NULL) while
the tablet stored them about the respondent, so one person's tablet and paper
measurements never paired. This sets the subject of every response that has a
respondent and no subject to that respondent (see ``responses.subject_of``).

Revision ID: 0250_about_self
Revises: 0401_alerts
"""

from alembic import op

revision = "0250_about_self"
down_revision = "0401_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE response SET about_person_id = person_id "
               "WHERE about_person_id IS NULL AND person_id IS NOT NULL")


def downgrade() -> None:
    # Which rows were self-reports stored about nobody cannot be told apart afterwards;
    # the rows stay as they are (they were right under the new rule).
    pass
