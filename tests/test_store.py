"""The SQLite store on a real file: migrations, WAL, status rules, reports."""

import sqlite3
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine

from tui.core.domain import ProviderDraft, Status, ValidationError
from tui.core.migrations import head_revision, upgrade_to_head
from tui.core.report import CheckReport, Failure, FailureKind, ProtocolResult, Step
from tui.core.rules import to_settings
from tui.core.store import HEAD_REVISION, NotFoundError, Store


def settings_for(name="Support", **changes):
    draft = ProviderDraft(
        name=name, account="support@example.com", password="x",
        smtp_host="smtp.example.com", inbound_host="imap.example.com",
    ).updated(**changes)
    return to_settings(draft)


def failed_report(name="Support") -> CheckReport:
    failure = Failure(FailureKind.AUTH, "The server rejected the password for support@example.com",
                      "Check the password.", ("password", "username"))
    outbound = ProtocolResult("smtp", "smtp.example.com", 587,
                              steps=[Step("resolve", True, 1.0), Step("auth", False, 3.0, "535")],
                              failure=failure, transcript=["C: AUTH PLAIN <redacted>", "S: 535 no"])
    return CheckReport(name, datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), outbound)


@pytest.fixture
def store(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'sub' / 'mailprov.db'}")
    yield store
    store.close()


def test_head_revision_constant_matches_the_migration_scripts():
    assert head_revision() == HEAD_REVISION


def test_open_creates_the_file_in_wal_mode_at_head(tmp_path, store):
    assert store.schema_revision() == HEAD_REVISION
    path = tmp_path / "sub" / "mailprov.db"
    store.list()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_add_get_is_case_insensitive_and_names_are_unique(store):
    store.add(settings_for("Support"))
    assert store.get("SUPPORT").name == "Support"
    with pytest.raises(ValidationError) as caught:
        store.add(settings_for("support"))
    assert "name" in caught.value.errors
    assert store.names() == ["Support"]


def test_a_new_provider_is_grey(store):
    assert store.add(settings_for()).status is Status.GREY


def test_save_report_then_connection_change_resets_to_grey(store):
    store.add(settings_for())
    record = store.save_report("Support", failed_report())
    assert record.status is Status.RED
    assert record.failure.kind is FailureKind.AUTH
    assert record.failure.fields == ("password", "username")
    assert record.report.outbound.transcript[0] == "C: AUTH PLAIN <redacted>"
    assert record.last_checked_at == datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)

    unchanged = store.update("Support", settings_for(from_name="Help desk"))
    assert unchanged.status is Status.RED  # the From Name is not a connection field

    changed = store.update("Support", settings_for(smtp_port="2525"))
    assert changed.status is Status.GREY
    assert changed.failure is None


def test_a_green_report_records_last_success(store):
    store.add(settings_for())
    ok = ProtocolResult("smtp", "smtp.example.com", 587, steps=[Step("resolve", True, 1.0)])
    report = CheckReport("Support", datetime(2026, 5, 6, tzinfo=timezone.utc), ok)
    record = store.save_report("Support", report)
    assert record.status is Status.GREEN
    assert record.last_ok_at == report.started_at


def test_rename_and_delete(store):
    store.add(settings_for())
    store.update("support", settings_for("Sales"))
    assert store.names() == ["Sales"]
    store.delete("sales")
    assert store.list() == []
    with pytest.raises(NotFoundError):
        store.delete("sales")


def test_a_database_made_at_the_first_revision_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade_to_head(engine, "0001")
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO provider (secret_key, name, name_key, type, account, from_name, smtp_host,"
            " smtp_port, smtp_security, imap_host, imap_port, imap_security, status, error_kind,"
            " error_message, error_remedy, created_at, updated_at) VALUES"
            " ('k1', 'Legacy', 'legacy', 'smtp-imap', 'old@example.com', 'Old Desk', 'smtp.example.com',"
            " 465, 'ssl', 'imap.example.com', 993, 'ssl', 'red', 'auth', 'rejected', 'fix it',"
            " '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
        )
    store = Store.open(f"sqlite:///{path}")
    assert store.schema_revision() == HEAD_REVISION
    record = store.get("legacy")
    assert record.secret_key == "k1"
    assert record.settings.username == "old@example.com"  # no username column before: the account
    assert (record.settings.outbound.port, record.settings.from_name) == (465, "Old Desk")
    assert record.status is Status.RED and record.failure.message == "rejected"
    assert record.failure.fields == ()
    store.close()


def test_an_older_database_gets_every_key_recorded_for_the_first_sweep(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade_to_head(engine, "0002")
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO provider (secret_key, name, name_key, type, account, created_at, updated_at)"
            " VALUES ('k1', 'Legacy', 'legacy', 'smtp-imap', 'old@example.com', '2025-01-01', '2025-01-01')"
        )
    store = Store.open(f"sqlite:///{path}")
    assert store.schema_revision() == HEAD_REVISION
    assert store.intents() == ["k1"]  # the sweep checks that its password exists
    store.close()


def test_a_report_is_saved_only_for_the_settings_and_key_that_were_checked(store):
    checked = store.add(settings_for())
    assert store.update("Support", settings_for(from_name="Desk")) is not None  # not a connection field
    assert store.save_report("Support", failed_report(), checked=checked).status is Status.RED

    checked = store.require("Support")
    store.update("Support", settings_for(smtp_port="1"))
    assert store.save_report("Support", failed_report(), checked=checked) is None
    assert store.require("Support").status is Status.GREY

    checked = store.require("Support")
    store.update("Support", settings_for(smtp_port="1"), secret_key="a-new-password")
    assert store.save_report("Support", failed_report(), checked=checked) is None
    assert store.intents() == [checked.secret_key]  # the old password is now to be deleted

    checked = store.require("Support")
    store.delete("Support")
    assert store.save_report("Support", failed_report(), checked=checked) is None


def test_summaries_are_light_rows_that_agree_with_the_records(store):
    """The list reads the provider table alone; the report is read for one provider."""
    store.add(settings_for("Support"))
    store.add(settings_for("Plain", smtp_security="none", smtp_port="25"))
    store.add(settings_for("Sender", receive_emails=False))
    store.save_report("Support", failed_report())
    ok = ProtocolResult("smtp", "smtp.example.com", 25, steps=[Step("resolve", True, 1.0)], encrypted=False)
    store.save_report("Plain", CheckReport("Plain", datetime(2026, 5, 6, tzinfo=timezone.utc), ok))
    summaries = store.summaries()
    assert all(type(s).__name__ == "ProviderSummary" for s in summaries)
    assert [(s.name, s.status_text, s.last_checked_at, s.last_ok_at, s.receive_emails) for s in summaries] == [
        (r.name, r.status_text, r.last_checked_at, r.last_ok_at, r.settings.receive_emails) for r in store.list()
    ]
    assert [s.status_text for s in summaries] == ["● active, unencrypted", "○ not checked", "✖ error"]
    assert summaries[2].failure_kind is FailureKind.AUTH
    assert store.report("SUPPORT").outbound.transcript == failed_report().outbound.transcript
    assert store.report("Sender") is None


def test_many_reports_are_saved_in_one_transaction_each_only_if_still_current(store):
    first, second = store.add(settings_for("One")), store.add(settings_for("Two"))
    store.update("Two", settings_for("Two", smtp_port="2525"))  # edited during the check
    assert store.save_reports([(first, failed_report("One")), (second, failed_report("Two"))]) == [True, False]
    assert store.require("One").report.outbound.failure.kind is FailureKind.AUTH
    assert (store.require("Two").status, store.require("Two").report) == (Status.GREY, None)
    store.delete("One")  # its report goes with it
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM check_report").scalar() == 0


def test_a_failing_save_of_many_reports_is_a_database_error_and_saves_none_of_them(store):
    """The reports are written on the sqlite3 connection under the store's transaction: a
    failure there is still SQLAlchemy's error (what the CLI and the UI report), and the
    transaction is rolled back as a whole."""
    from sqlalchemy.exc import SQLAlchemyError

    first, second = store.add(settings_for("One")), store.add(settings_for("Two"))
    with store.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TRIGGER refuse_two BEFORE INSERT ON check_report "
                                   f"WHEN NEW.provider_id = {second.id} BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(SQLAlchemyError, match="refused"):
        store.save_reports([(first, failed_report("One")), (second, failed_report("Two"))])
    assert [(r.status, r.report) for r in (store.require("One"), store.require("Two"))] == [(Status.GREY, None)] * 2
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse_two")
    assert store.save_reports([(first, failed_report("One")), (second, failed_report("Two"))]) == [True, True]
    assert store.require("Two").report.outbound.failure.kind is FailureKind.AUTH


def test_a_reports_dict_is_what_dataclasses_asdict_gives():
    """CheckReport.to_dict() is built by hand for speed: the same keys, order and values."""
    import json
    from dataclasses import asdict

    inbound = ProtocolResult("imap", "imap.example.com", 143, steps=[Step("login", True, 2.5, "OK")],
                             transcript=["S: * OK", "C: a1 LOGOUT"], summary="INBOX: 3 messages, 1 unseen",
                             encrypted=False, starttls_offered=True)
    passed = CheckReport("Desk", datetime(2026, 1, 2, tzinfo=timezone.utc), failed_report().outbound, inbound, 12.5)
    for report in (failed_report(), passed):
        expected = asdict(report)
        del expected["outdated"]
        expected.update(started_at=report.started_at.isoformat(), status=report.status.value,
                        encrypted=report.encrypted)
        assert json.dumps(report.to_dict()) == json.dumps(expected)
