"""Fixed demo data: three providers, one of each status, and a failed check report.

Used by `python -m tui.ui.screenshots`, by the UI tests and by the UI benchmark; nothing here
touches a network (the reports are constructed, then saved through the store)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from tui.core.domain import ProviderDraft, Status
from tui.core.report import CheckReport, Failure, FailureKind, ProtocolResult, Step
from tui.core.settings import Settings

DEMO_NOW = datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc)
DEMO_PASSWORD = "not-a-real-password"  # must never show up in a screenshot


def example_draft(name: str, **changes) -> ProviderDraft:
    slug = name.lower().replace(" ", "-")
    return ProviderDraft(
        name=name,
        account=f"{slug}@example.com",
        password=DEMO_PASSWORD,
        smtp_host="smtp.example.com",
        inbound_host="imap.example.com",
    ).updated(**changes)


def failed_report(name: str, when: datetime) -> CheckReport:
    """A fixed failed check: SMTP login refused (no network involved)."""
    failure = Failure(
        kind=FailureKind.AUTH,
        message="smtp.example.com refused the login of billing@example.com.",
        remedy="Check the password; some providers want an app password.",
        fields=("password",),
    )
    outbound = ProtocolResult(
        protocol="smtp",
        host="smtp.example.com",
        port=587,
        steps=[
            Step("resolve", True, 3, "93.184.216.34"),
            Step("connect", True, 21),
            Step("greeting", True, 40, "220 smtp.example.com ESMTP"),
            Step("starttls", True, 55, "TLSv1.3, certificate valid"),
            Step("auth", False, 310, "535 5.7.8 Authentication failed"),
        ],
        failure=failure,
        transcript=[
            "S: 220 smtp.example.com ESMTP",
            "C: EHLO mailprov",
            "C: AUTH PLAIN ********",
            "S: 535 5.7.8 Authentication failed",
        ],
    )
    return CheckReport(provider=name, started_at=when, outbound=outbound, duration_ms=429)


def passed_report(name: str, when: datetime) -> CheckReport:
    outbound = ProtocolResult(
        protocol="smtp",
        host="smtp.example.com",
        port=587,
        steps=[Step("resolve", True, 2), Step("connect", True, 18), Step("auth", True, 120)],
    )
    inbound = ProtocolResult(
        protocol="imap",
        host="imap.example.com",
        port=993,
        steps=[
            Step("resolve", True, 2),
            Step("connect", True, 20),
            Step("login", True, 90),
            Step("select", True, 12),
        ],
        summary="INBOX: 12 messages, 3 unseen",
    )
    return CheckReport(provider=name, started_at=when, outbound=outbound, inbound=inbound, duration_ms=264)


def fill_demo(service, now: datetime = DEMO_NOW) -> None:
    """Three providers, one of each status: active, error, not checked."""
    service.create(example_draft("Support"))
    service.create(example_draft("Billing"))
    service.create(example_draft("Sales", type="gmail", password="", smtp_host="", inbound_host=""))
    service.store.save_report("Support", passed_report("Support", now - timedelta(minutes=3)))
    service.store.save_report("Billing", failed_report("Billing", now - timedelta(hours=2)))
    assert [r.status for r in service.list()] == [Status.RED, Status.GREY, Status.GREEN]


def queue_demo(store, provider: str = "Support", count: int = 12, first: int = 1) -> None:
    """`count` small messages received into the provider's queue (the list's Queued column),
    numbered from `first` (the same numbers again are the same messages: not queued twice).
    `store` is a tui.core.store.Store."""
    from tui.core.parse import parse_message
    from tui.core.queue import Incoming, QueueStore

    record = store.get(provider)
    batch = [
        Incoming(parse_message(
            f"From: Customer {number} <customer{number}@example.net>\r\nTo: {record.settings.account}\r\n"
            f"Subject: Order {number}\r\nMessage-ID: <demo-{number}@example.net>\r\n\r\nWhere is it?\r\n".encode()
        ), f"demo {number}")
        for number in range(first, first + count)
    ]
    QueueStore(store).commit_batch(record.id, batch, active_reference=True)


def demo_settings(folder: Path, *, ca_file: Path | None = None, timeout: float = 5) -> Settings:
    """Settings over a SQLite file in `folder`."""
    return Settings(
        db_url=f"sqlite:///{folder / 'mailprov.db'}",
        config_dir=folder / "config",
        data_dir=folder,
        log_dir=folder / "log",
        timeout=timeout,
        ca_file=ca_file,
    )


def memory_service(settings: Settings):
    """A real store over the settings' database, with secrets kept in memory only."""
    from tui.core.secrets import MemoryKeyring, SecretStore
    from tui.core.service import ProviderService
    from tui.core.store import Store

    return ProviderService(Store.open(settings.db_url), SecretStore(MemoryKeyring()), settings)
