"""Migration 0004 on a database made by the current release (schema 0003), on real SQLite files:
every provider of every type keeps its settings, status, report and password."""

import json
import sqlite3
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine

from tui.core import credentials
from tui.core.domain import Protocol, ProviderDraft, Security, SignIn, Status, ValidationError
from tui.core.migrations import alembic_config, upgrade_to_head
from tui.core.report import CheckReport, Failure, FailureKind, ProtocolResult, Step
from tui.core.rules import to_settings
from tui.core.secrets import EncryptedFileKeyring, SecretStore
from tui.core.service import ProviderService
from tui.core.settings import load_settings
from tui.core.store import HEAD_REVISION, Store

WHEN = datetime(2026, 2, 3, 4, 5, tzinfo=timezone.utc)


def imap_failure_report(name: str) -> str:
    """A report as release 0003 saved it: the IMAP ladder failed, blaming imap_host and imap_port."""
    failure = Failure(FailureKind.TIMEOUT, "imap.example.com did not answer", "Check the host and port.",
                      ("imap_host", "imap_port"), transient=True)
    outbound = ProtocolResult("smtp", "smtp.example.com", 587, steps=[Step("resolve", True, 1.0)])
    inbound = ProtocolResult("imap", "imap.example.com", 993, steps=[Step("connect", False, 9.0)], failure=failure,
                             transcript=["S: * OK"])
    return json.dumps(CheckReport(name, WHEN, outbound, inbound).to_dict())


# One row per kind of provider the release can hold: (secret key, name, type, receive, imap, status,
# error kind, error fields, last report).
OLD_ROWS = [
    ("k-desk", "Desk", "smtp-imap", 1, ("imap.example.com", 143, "starttls"), "red", "timeout",
     '["imap_host", "imap_port"]', imap_failure_report("Desk")),
    ("k-sender", "Sender", "smtp-imap", 0, ("old-imap.example.com", 993, "ssl"), "green", None, "[]", None),
    ("k-outlook", "Outlook desk", "outlook", 1, ("outlook.office365.com", 993, "ssl"), "grey", None, "[]", None),
    ("k-gmail", "Gmail sales", "gmail", 0, ("imap.gmail.com", 993, "ssl"), "red", "secret", '["password"]', None),
]


def database_at_0003(path) -> None:
    """A database exactly as the current release leaves it, rows written with plain SQL."""
    engine = create_engine(f"sqlite:///{path}")
    upgrade_to_head(engine, "0003")
    engine.dispose()
    with sqlite3.connect(path) as conn:
        for key, name, kind, receive, (host, port, security), status, kind_of_error, fields, report in OLD_ROWS:
            conn.execute(
                "INSERT INTO provider (secret_key, name, name_key, type, account, username, from_name,"
                " receive_emails, active_reference, reply_to, smtp_host, smtp_port, smtp_security, imap_host,"
                " imap_port, imap_security, status, last_checked_at, error_kind, error_message, error_remedy,"
                " error_fields, last_report, created_at, updated_at) VALUES"
                " (?, ?, ?, ?, ?, ?, 'Team', ?, 0, '[\"r@example.com\"]', 'smtp.example.com', 465, 'ssl',"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '2025-01-01 00:00:00', '2025-01-02 00:00:00')",
                (key, name, name.casefold(), kind, f"{key}@example.com", "login" if kind == "smtp-imap" else None,
                 receive, host, port, security, status, "2026-02-03 04:05:00" if status != "grey" else None,
                 kind_of_error, "the message" if kind_of_error else None, "the remedy" if kind_of_error else None,
                 fields, report),
            )
        conn.execute("DELETE FROM secret_intent")  # as after the first sweep of release 0003


@pytest.fixture
def migrated(tmp_path):
    """The old database with its passwords in an encrypted secrets file, opened by this version."""
    path = tmp_path / "mailprov.db"
    database_at_0003(path)
    backend = EncryptedFileKeyring(tmp_path / "secrets.enc", "a master key", "test")
    SecretStore(backend).set_many({"k-desk": "desk password", "k-sender": "sender password"})
    settings = load_settings(env={"MAILPROV_DB": str(path), "MAILPROV_DATA_DIR": str(tmp_path),
                                  "MAILPROV_CONFIG_DIR": str(tmp_path), "MAILPROV_LOG_DIR": str(tmp_path)})
    service = ProviderService(Store.open(settings.db_url), SecretStore(backend), settings)
    yield service
    service.store.close()


def test_every_provider_keeps_its_settings_in_the_new_shape(migrated):
    assert migrated.store.schema_revision() == HEAD_REVISION
    records = {record.name: record for record in migrated.list()}
    assert sorted(records) == ["Desk", "Gmail sales", "Outlook desk", "Sender"]

    desk = records["Desk"].settings
    assert (desk.sign_in, desk.username, desk.from_name, desk.reply_to) == (SignIn.PASSWORD, "login", "Team",
                                                                          ("r@example.com",))
    assert (desk.outbound.host, desk.outbound.port, desk.outbound.security) == ("smtp.example.com", 465, Security.SSL)
    assert desk.inbound.protocol is Protocol.IMAP
    assert (desk.inbound.server.host, desk.inbound.server.port) == ("imap.example.com", 143)
    assert desk.inbound.server.security is Security.STARTTLS
    assert desk.active_reference is False

    assert records["Sender"].settings.inbound is None  # receiving was off
    assert records["Outlook desk"].settings.sign_in is SignIn.MICROSOFT
    assert records["Outlook desk"].settings.inbound.server.host == "outlook.office365.com"
    assert records["Gmail sales"].settings.sign_in is SignIn.GOOGLE
    assert records["Gmail sales"].settings.inbound is None
    assert all(record.token_key is None for record in records.values())  # nobody signed in yet


def test_statuses_reports_and_blamed_fields_survive(migrated):
    desk = migrated.require("Desk")
    assert desk.status is Status.RED and desk.last_checked_at == WHEN
    assert desk.failure.fields == ("inbound_host", "inbound_port")  # blamed by today's names
    assert desk.report.inbound.failure.fields == ("inbound_host", "inbound_port")
    assert desk.report.inbound.transcript == ["S: * OK"]
    assert migrated.require("Sender").status is Status.GREEN
    assert migrated.require("Outlook desk").status is Status.GREY
    gmail = migrated.require("Gmail sales")
    assert gmail.failure.kind is FailureKind.SECRET and gmail.status_text == "✖ password missing"


def test_passwords_are_found_under_the_same_keys(migrated):
    assert [r.secret_key for r in migrated.list()] == ["k-desk", "k-gmail", "k-outlook", "k-sender"]
    assert migrated.draft_for("Desk").password_stored
    credential = credentials.for_provider(migrated.require("Desk"), migrated.secrets)
    assert (credential.username, credential.password) == ("login", "desk password")
    assert migrated.secrets.get_password(migrated.require("Sender").secret_key) == "sender password"


def test_the_migrated_table_keeps_its_constraints_and_takes_new_rows(migrated):
    with pytest.raises(ValidationError):
        migrated.store.add(to_settings(ProviderDraft(name="DESK", account="a@example.com", password="x",
                                                     smtp_host="smtp.example.com", receive_emails=False)))
    pop3 = to_settings(ProviderDraft(name="Pop", account="p@example.com", password="x", smtp_host="smtp.example.com",
                                     inbound_protocol="pop3", inbound_host="pop.example.com"))
    added = migrated.store.add(pop3)
    assert migrated.require("pop").settings == pop3 and added.settings.inbound.server.port == 995
    # Edited after the migration, a provider keeps its password and its status rules.
    edited = migrated.update("Desk", migrated.draft_for("Desk").updated(from_name="Help desk"))
    assert edited.status is Status.RED and edited.secret_key == "k-desk"


def test_downgrade_to_0003_gives_back_the_old_columns(migrated, tmp_path):
    """(Through 0005's downgrade too: the report goes back into its row.)"""
    from alembic import command

    with migrated.store.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
    with sqlite3.connect(tmp_path / "mailprov.db") as conn:
        rows = conn.execute("SELECT name, receive_emails, imap_host, imap_port, imap_security, error_fields"
                            " FROM provider ORDER BY name").fetchall()
    assert rows[0] == ("Desk", 1, "imap.example.com", 143, "starttls", '["imap_host", "imap_port"]')
    assert rows[3][:2] == ("Sender", 0)
    with sqlite3.connect(tmp_path / "mailprov.db") as conn:
        report = conn.execute("SELECT last_report FROM provider WHERE name = 'Desk'").fetchone()[0]
    assert json.loads(report)["inbound"]["transcript"] == ["S: * OK"]


def test_several_processes_starting_on_an_old_database_migrate_it_once(tmp_path):
    """The UI, the CLI and a worker may all start on the upgraded program at once (real
    processes, forked from one that imported mailprov: tests/forked_cli.py)."""
    import os

    from tests.forked_cli import start_forked

    path = tmp_path / "mailprov.db"
    database_at_0003(path)
    env = {**os.environ, "MAILPROV_DATA_DIR": str(tmp_path), "MAILPROV_CONFIG_DIR": str(tmp_path),
           "MAILPROV_LOG_DIR": str(tmp_path)}
    argv = ["provider", "list", "--json", "--db", str(path)]
    processes = [start_forked(argv, env=env, folder=tmp_path) for _ in range(6)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * 6, [err for _, err in outputs]
    for out, _ in outputs:
        assert [provider["name"] for provider in json.loads(out)] == ["Desk", "Gmail sales", "Outlook desk", "Sender"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD_REVISION,)]
        assert conn.execute("SELECT inbound_protocol, inbound_port FROM provider WHERE name = 'Desk'").fetchone() == (
            "imap", 143)


def test_reports_move_to_their_table_and_the_summary_is_back_filled(migrated, tmp_path):
    """Migration 0005: the report of 'Desk' (saved by release 0003) is in check_report, its
    summary in the row; the list reads the summary alone and agrees with the full records."""
    with sqlite3.connect(tmp_path / "mailprov.db") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(provider)")]
        assert "last_report" not in columns
        moved = conn.execute("SELECT p.name, r.report FROM check_report r JOIN provider p ON p.id = r.provider_id")
        assert [(name, json.loads(report)["provider"]) for name, report in moved] == [("Desk", "Desk")]
        assert conn.execute("SELECT check_encrypted FROM provider WHERE name = 'Desk'").fetchone() == (1,)
    summaries = migrated.summaries()
    assert [(s.name, s.status, s.status_text) for s in summaries] == [
        (r.name, r.status, r.status_text) for r in migrated.list()
    ]
    desk = next(s for s in summaries if s.name == "Desk")
    assert (desk.failure_kind, desk.last_checked_at, desk.receive_emails) == (FailureKind.TIMEOUT, WHEN, True)
    assert migrated.report("desk").inbound.transcript == ["S: * OK"]
    assert migrated.report("Sender") is None and migrated.report("nobody") is None
