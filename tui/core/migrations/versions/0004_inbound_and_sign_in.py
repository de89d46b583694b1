"""Inbound over IMAP or POP3, the sign-in method in its own column, a token slot.

- `imap_host/imap_port/imap_security` become `inbound_protocol/inbound_host/inbound_port/
  inbound_security` ('imap' for every existing row); all four are NULL when Receive emails
  is off, which replaces the `receive_emails` column (a receiving-off provider's unused
  IMAP server is not kept: nothing read it, and the next save would have dropped it).
- `sign_in` (password, microsoft, google) is set from the type, as the type implied it.
- `token_key`: the key of the OAuth token cache in the secret store, NULL until sign-in.
- Failures and reports saved before blame the fields by their new names (`inbound_host`).

Every provider keeps its id, secret key (and so its password), status and last report.

Revision ID: 0004
Revises: 0003
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SIGN_IN_OF_TYPE = {"smtp-imap": "password", "outlook": "microsoft", "gmail": "google"}
RENAMED_FIELDS = {"imap_host": "inbound_host", "imap_port": "inbound_port", "imap_security": "inbound_security"}
PARTS = ("host", "port", "security")


def upgrade() -> None:
    with op.batch_alter_table("provider") as batch:
        batch.add_column(sa.Column("sign_in", sa.String, nullable=True))
        batch.add_column(sa.Column("token_key", sa.String, nullable=True))
        batch.add_column(sa.Column("inbound_protocol", sa.String, nullable=True))
        for part, column_type in zip(PARTS, (sa.String, sa.Integer, sa.String)):
            batch.add_column(sa.Column(f"inbound_{part}", column_type, nullable=True))

    connection = op.get_bind()
    for provider_type, sign_in in SIGN_IN_OF_TYPE.items():
        connection.execute(sa.text("UPDATE provider SET sign_in = :s WHERE type = :t"), {"s": sign_in, "t": provider_type})
    connection.execute(sa.text(
        "UPDATE provider SET inbound_protocol = 'imap', inbound_host = imap_host,"
        " inbound_port = imap_port, inbound_security = imap_security WHERE receive_emails"
    ))
    _rename_blamed_fields(connection, RENAMED_FIELDS)

    with op.batch_alter_table("provider") as batch:
        batch.alter_column("sign_in", existing_type=sa.String, nullable=False, server_default="password")
        batch.create_unique_constraint("uq_provider_token_key", ["token_key"])
        for part in PARTS:
            batch.drop_column(f"imap_{part}")
        batch.drop_column("receive_emails")


def downgrade() -> None:
    """Back to 0003's columns. A POP3 provider cannot be said there: it becomes IMAP on the
    same server, and the next check will say whether that works."""
    with op.batch_alter_table("provider") as batch:
        batch.add_column(sa.Column("receive_emails", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("imap_host", sa.String, nullable=False, server_default=""))
        batch.add_column(sa.Column("imap_port", sa.Integer, nullable=False, server_default="993"))
        batch.add_column(sa.Column("imap_security", sa.String, nullable=False, server_default="ssl"))

    connection = op.get_bind()
    connection.execute(sa.text(
        "UPDATE provider SET receive_emails = (inbound_protocol IS NOT NULL),"
        " imap_host = COALESCE(inbound_host, ''), imap_port = COALESCE(inbound_port, 993),"
        " imap_security = COALESCE(inbound_security, 'ssl')"
    ))
    _rename_blamed_fields(connection, {new: old for old, new in RENAMED_FIELDS.items()})

    with op.batch_alter_table("provider") as batch:
        batch.drop_constraint("uq_provider_token_key", type_="unique")
        for column in ("token_key", "sign_in", "inbound_protocol", *(f"inbound_{part}" for part in PARTS)):
            batch.drop_column(column)


def _rename_blamed_fields(connection, renamed: dict[str, str]) -> None:
    """The failure fields saved with each row and inside its last report, by their new names."""
    rows = connection.execute(sa.text(
        "SELECT id, error_fields, last_report FROM provider WHERE error_fields != '[]' OR last_report IS NOT NULL"
    )).all()
    for row_id, error_fields, last_report in rows:
        fields = [renamed.get(name, name) for name in json.loads(error_fields or "[]")]
        report = json.loads(last_report) if last_report else None
        if report is not None:
            _rename_in_report(report, renamed)
        connection.execute(
            sa.text("UPDATE provider SET error_fields = :fields, last_report = :report WHERE id = :id"),
            {"fields": json.dumps(fields), "report": json.dumps(report) if report is not None else None, "id": row_id},
        )


def _rename_in_report(report: dict, renamed: dict[str, str]) -> None:
    for key in ("outbound", "inbound"):
        failure = (report.get(key) or {}).get("failure")
        if failure and isinstance(failure.get("fields"), list):
            failure["fields"] = [renamed.get(name, name) for name in failure["fields"]]
