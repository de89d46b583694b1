"""SMTP sign-in: `login` (every existing provider, as before) or `none`, for a trusted relay
(a local Postfix) that takes mail without AUTH.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider") as batch:
        batch.add_column(sa.Column("smtp_sign_in", sa.String, nullable=False, server_default="login"))


def downgrade() -> None:
    """0004 has no such column: a provider sending without login would log in again (and its
    next check says whether a password is stored)."""
    with op.batch_alter_table("provider") as batch:
        batch.drop_column("smtp_sign_in")
