"""Campaigns, and the inbound queue the receive worker fills.

- `campaign`: a name (unique case-insensitively), a kind (email or dialer) and the provider
  it uses (NULL: none attached).
- `conversation` and `mail_message`: per provider, the messages received (and, later, sent)
  with their raw bytes and parsed fields; a message belongs to one conversation.
  `dedupe_key` (the Message-ID, else a hash of the bytes) is unique per provider and
  direction: a message is never queued twice, whatever the server renumbers; its index
  also finds the conversation of a Message-ID a reply names.
- `mail_sync`: per provider, where the worker is (IMAP UIDVALIDITY and the highest UID
  done), since when it takes mail, and its run of failures.
- `pop3_seen`: per provider, the POP3 UIDLs already queued.

The provider is referred to by id without a database foreign key: a later migration that
rebuilds the provider table (SQLite's batch mode drops and recreates it) must not cascade
into the queue. The store removes a provider's rows itself when the provider is deleted.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("name_key", sa.String, nullable=False, unique=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("provider_id", sa.Integer, nullable=True, index=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider_id", sa.Integer, nullable=False),
        sa.Column("subject", sa.String, nullable=False, server_default=""),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("last_message_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_conversation_provider_last", "conversation", ["provider_id", "last_message_at"])
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.Integer, nullable=False, index=True),
        sa.Column("direction", sa.String, nullable=False),  # "in" or "out"
        sa.Column("dedupe_key", sa.String, nullable=False),
        sa.Column("source", sa.String, nullable=False, server_default=""),
        sa.Column("message_id", sa.String, nullable=True),
        sa.Column("in_reply_to", sa.String, nullable=True),
        sa.Column("references", sa.Text, nullable=False, server_default="[]"),
        sa.Column("from_addr", sa.Text, nullable=False, server_default=""),
        sa.Column("to_addrs", sa.Text, nullable=False, server_default="[]"),
        sa.Column("cc_addrs", sa.Text, nullable=False, server_default="[]"),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("date", sa.DateTime, nullable=True),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("html_text", sa.Text, nullable=False, server_default=""),
        sa.Column("attachments", sa.Text, nullable=False, server_default="[]"),
        sa.Column("size", sa.Integer, nullable=False, server_default="0"),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("parse_error", sa.Text, nullable=True),
        sa.Column("too_large", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("provider_id", "direction", "dedupe_key", name="uq_mail_message_dedupe"),
    )
    op.create_table(
        "mail_sync",
        sa.Column("provider_id", sa.Integer, primary_key=True),
        sa.Column("mailbox_key", sa.String, nullable=False),
        sa.Column("uidvalidity", sa.Integer, nullable=True),
        sa.Column("last_uid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("red_by_worker", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "pop3_seen",
        sa.Column("provider_id", sa.Integer, primary_key=True),
        sa.Column("uidl", sa.String, primary_key=True),
    )


def downgrade() -> None:
    for table in ("pop3_seen", "mail_sync", "mail_message", "conversation", "campaign"):
        op.drop_table(table)
