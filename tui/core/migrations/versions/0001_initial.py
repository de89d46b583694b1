"""The provider table as first released.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("secret_key", sa.String, nullable=False, unique=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("name_key", sa.String, nullable=False, unique=True),
        sa.Column("type", sa.String, nullable=False),
        sa.Column("account", sa.String, nullable=False),
        sa.Column("from_name", sa.String, nullable=False, server_default=""),
        sa.Column("receive_emails", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("active_reference", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("reply_to", sa.String, nullable=False, server_default="[]"),
        sa.Column("smtp_host", sa.String, nullable=False, server_default=""),
        sa.Column("smtp_port", sa.Integer, nullable=False, server_default="587"),
        sa.Column("smtp_security", sa.String, nullable=False, server_default="starttls"),
        sa.Column("imap_host", sa.String, nullable=False, server_default=""),
        sa.Column("imap_port", sa.Integer, nullable=False, server_default="993"),
        sa.Column("imap_security", sa.String, nullable=False, server_default="ssl"),
        sa.Column("status", sa.String, nullable=False, server_default="grey"),
        sa.Column("last_checked_at", sa.DateTime, nullable=True),
        sa.Column("last_ok_at", sa.DateTime, nullable=True),
        sa.Column("error_kind", sa.String, nullable=True),
        sa.Column("error_message", sa.String, nullable=True),
        sa.Column("error_remedy", sa.String, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("provider")
