"""OAuth sign-in: what the status pane and `doctor` show about a sign-in, and the
organisation's OAuth app registrations.

- provider: `shared_mailbox` (the sign-in account may differ from the mailbox),
  `oauth_account` (who signed in, from the id token), `token_expires_at` (the access
  token's expiry) and `refresh_token_at` (when the refresh token in use was issued). None of
  them is secret: the tokens themselves stay in the secret store (the row's `token_key`).
- oauth_app: one row per sign-in method (`microsoft`, `google`) with its client id and
  endpoints; `secret_key` names the Google client secret in the secret store.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider") as batch:
        batch.add_column(sa.Column("shared_mailbox", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("oauth_account", sa.String, nullable=True))
        batch.add_column(sa.Column("token_expires_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("refresh_token_at", sa.DateTime, nullable=True))
    op.create_table(
        "oauth_app",
        sa.Column("method", sa.String, primary_key=True),
        sa.Column("client_id", sa.String, nullable=False),
        sa.Column("tenant", sa.String, nullable=True),
        sa.Column("authority_host", sa.String, nullable=True),
        sa.Column("auth_uri", sa.String, nullable=True),
        sa.Column("token_uri", sa.String, nullable=True),
        sa.Column("secret_key", sa.String, nullable=True, unique=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oauth_app")
    with op.batch_alter_table("provider") as batch:
        for column in ("refresh_token_at", "token_expires_at", "oauth_account", "shared_mailbox"):
            batch.drop_column(column)
