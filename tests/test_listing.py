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
