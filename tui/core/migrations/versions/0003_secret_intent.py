"""Secret keys whose password may exist without a row using it, or a row without its password.

A provider write records a key here before its password is written and before a row stops
using it; the row commit settles the new key and records the old one. What a crash leaves
behind is found here and swept (see tui.core.service). Every key of an older database is
recorded too: the first sweep checks that each of those rows has its password, since the
versions before this one could be killed between the row and the password.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_intent",
        sa.Column("secret_key", sa.String, primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.execute("INSERT INTO secret_intent (secret_key, created_at) SELECT secret_key, CURRENT_TIMESTAMP FROM provider")


def downgrade() -> None:
    op.drop_table("secret_intent")
