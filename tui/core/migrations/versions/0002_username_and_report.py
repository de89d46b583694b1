"""A login name apart from the account, the blamed fields and the last check report.

Before this, people whose login differed from the mailbox address swapped Account and
From Name; `username` (NULL: log in with the account) replaces that workaround.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider") as batch:
        batch.add_column(sa.Column("username", sa.String, nullable=True))
        batch.add_column(sa.Column("error_fields", sa.String, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("last_report", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider") as batch:
        batch.drop_column("last_report")
        batch.drop_column("error_fields")
        batch.drop_column("username")
