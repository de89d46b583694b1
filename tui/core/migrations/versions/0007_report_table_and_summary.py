"""The last check's report in a table of its own; its summary in the provider row.

A list of 10,000 checked providers read every report (about 4.5 KB of JSON each) to show one
status word per row. Now:
- `check_report(provider_id, report)` holds each provider's last report, read when one
  provider is opened (no foreign key: see store.ReportRow);
- the provider row keeps what a list shows, written in the same transaction as the report:
  status, last check, last success and the failure (as before), plus `check_encrypted` (the
  last check's connections were encrypted) and `check_summary` ("IMAP: INBOX: 12 messages");
  both back-filled here from the reports already saved;
- `last_report` is dropped from the provider row.

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_report",
        sa.Column("provider_id", sa.Integer, primary_key=True),
        sa.Column("report", sa.Text, nullable=False),
    )
    with op.batch_alter_table("provider") as batch:
        batch.add_column(sa.Column("check_encrypted", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("check_summary", sa.String, nullable=True))

    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, last_report FROM provider WHERE last_report IS NOT NULL"))
    for row_id, last_report in rows.all():
        connection.execute(
            sa.text("INSERT INTO check_report (provider_id, report) VALUES (:id, :report)"),
            {"id": row_id, "report": last_report},
        )
        encrypted, summary = _summary_of(json.loads(last_report))
        connection.execute(
            sa.text("UPDATE provider SET check_encrypted = :encrypted, check_summary = :summary WHERE id = :id"),
            {"encrypted": encrypted, "summary": summary, "id": row_id},
        )

    with op.batch_alter_table("provider") as batch:
        batch.drop_column("last_report")


def downgrade() -> None:
    with op.batch_alter_table("provider") as batch:
        batch.add_column(sa.Column("last_report", sa.Text, nullable=True))
    connection = op.get_bind()
    connection.execute(sa.text(
        "UPDATE provider SET last_report ="
        " (SELECT report FROM check_report WHERE check_report.provider_id = provider.id)"
    ))
    with op.batch_alter_table("provider") as batch:
        batch.drop_column("check_summary")
        batch.drop_column("check_encrypted")
    op.drop_table("check_report")


def _summary_of(report: dict) -> tuple[bool, str]:
    """What records.summary_columns() writes for a report, from its JSON as saved (this
    migration keeps to the JSON, not to the classes, which may change later)."""
    results = [result for result in (report.get("outbound"), report.get("inbound")) if result]
    encrypted = all(bool(result.get("encrypted", True)) for result in results)
    summary = "; ".join(
        f"{str(result.get('protocol', '')).upper()}: {result['summary']}" for result in results if result.get("summary")
    )
    return encrypted, summary
