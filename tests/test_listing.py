"""The list's light rows (tui/core/listing.py) say what the full records say, on a real SQLite file."""

from datetime import timedelta

from tests.ui_helpers import DEMO_NOW, example_draft, failed_report, fill_demo, make_service, make_settings
from tui.core.domain import Protocol, Status
from tui.core.report import Failure, FailureKind


def test_light_rows_match_the_full_records(tmp_path):
    service = make_service(make_settings(tmp_path))
    fill_demo(service)  # Support active, Billing failed, Sales (Gmail) not checked
    service.create(example_draft("Plain", smtp_security="none", smtp_port="25", receive_emails=False))
    service.create(example_draft("Pop", inbound_protocol="pop3", inbound_port="995"))
    service.store.save_report("Plain", failed_report("Plain", DEMO_NOW - timedelta(days=1)))
    missing = Failure(kind=FailureKind.SECRET, message="The password is missing.", remedy="Type it again.")
    service.store.mark_password_problem(service.get("Pop").secret_key, missing)

    records = service.list()
    rows = service.store.list_rows()

    assert [row.name for row in rows] == [record.name for record in records]
    for row, record in zip(rows, records):
        settings = record.settings
        assert (row.type, row.account, row.status) == (settings.type, settings.account, record.status)
        assert row.inbound == (settings.inbound.protocol if settings.inbound else None)
        assert (row.last_checked_at, row.last_ok_at) == (record.last_checked_at, record.last_ok_at)
        assert row.failure == record.failure
        assert row.encrypted == settings.encrypted
    by_name = {row.name: row for row in rows}
    assert by_name["Plain"].inbound is None and not by_name["Plain"].encrypted
    assert by_name["Pop"].inbound is Protocol.POP3 and by_name["Pop"].failure.kind is FailureKind.SECRET
    assert by_name["Billing"].status is Status.RED and by_name["Billing"].last_checked_at.tzinfo is not None


def test_rows_carry_each_providers_received_count_from_the_store_and_the_peek(tmp_path):
    from tests.ui_helpers import queue_demo
    from tui.core.listing import ROWS_SQL, peek_sqlite
    from tui.core.queue import QueueStore

    settings = make_settings(tmp_path)
    service = make_service(settings)
    fill_demo(service)
    queue_demo(service.store, "Support", count=12)
    queue_demo(service.store, "Billing", count=1)
    queue_demo(service.store, "Billing", count=1)  # the same message again: queued once
    sent = b"From: support@example.com\r\nTo: a@example.net\r\nSubject: Hi\r\nMessage-ID: <out-1@example.com>\r\n\r\nHi\r\n"
    QueueStore(service.store).record_sent(service.require("Support").id, sent)  # sent: not counted

    expected = {"Billing": 1, "Sales": 0, "Support": 12}
    assert {row.name: row.queued for row in service.store.list_rows()} == expected
    assert {row.name: row.queued for row in peek_sqlite(settings.db_url)} == expected
    assert QueueStore(service.store).queued_counts() == {
        service.require(name).id: count for name, count in expected.items() if count}

    # One aggregate over the queue's unique index beside the rows, not a query per row.
    import sqlite3

    with sqlite3.connect(tmp_path / "mailprov.db") as connection:
        plan = " | ".join(row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + ROWS_SQL))
    assert "SCAN mail_message USING COVERING INDEX" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_queued_counts_kept_between_reloads_stay_right_as_messages_come_and_go(tmp_path):
    """The store brings the counts it read before up to date (tui.core.listing.QueuedCounts):
    new messages are counted alone; a deletion, even one whose ids new messages took again,
    means counting all of them again."""
    from tests.ui_helpers import queue_demo
    from tui.core.listing import peek_sqlite
    from tui.core.queue import QueueStore

    settings = make_settings(tmp_path)
    service = make_service(settings)
    fill_demo(service)
    store = service.store
    kept = store.queued_counts

    def counts() -> dict[str, int]:
        from_store = {row.name: row.queued for row in store.list_rows()}
        assert from_store == {row.name: row.queued for row in peek_sqlite(settings.db_url)}  # counted afresh
        return from_store

    assert counts() == {"Billing": 0, "Sales": 0, "Support": 0}
    assert kept.full_counts == 1
    queue_demo(store, "Support", count=12)
    sent = b"From: support@example.com\r\nTo: a@example.net\r\nSubject: Hi\r\nMessage-ID: <out-1@example.com>\r\n\r\nHi\r\n"
    QueueStore(store).record_sent(service.require("Support").id, sent)  # sent: not counted
    assert counts() == {"Billing": 0, "Sales": 0, "Support": 12}
    queue_demo(store, "Billing", count=3)
    queue_demo(store, "Billing", count=3)  # the same messages: queued once
    assert counts() == {"Billing": 3, "Sales": 0, "Support": 12}
    assert counts() == {"Billing": 3, "Sales": 0, "Support": 12}  # nothing new
    assert kept.full_counts == 1  # only the new messages were counted

    # Billing's messages are the last ones: once deleted, Sales's new ones take their ids
    # (as many: the number of messages is the same as before).
    service.delete("Billing")
    queue_demo(store, "Sales", count=3)
    assert counts() == {"Sales": 3, "Support": 12}
    assert kept.full_counts == 2

    # Deleted and put back (a failed delete): the row is the same, its messages are gone.
    record = service.get("Support")
    store.delete("Support")
    store.restore(record)
    assert counts() == {"Sales": 3, "Support": 0}
    assert kept.full_counts == 3
    queue_demo(store, "Support", count=2, first=100)
    assert counts() == {"Sales": 3, "Support": 2}
    assert kept.full_counts == 3
