"""What the screens show of a provider: a record from the store, kept current by check reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import datetime
from typing import Any

from tui.core.domain import UNSAVED_NAME, ProviderType, Status, status_text
from tui.core.oauth.tokens import TokenStatus
from tui.core.report import CheckReport, Failure, is_password_missing
from tui.core.rules import parse_type


# A set lookup per list row (100,000 of them) rather than two enum properties.
_OAUTH_TYPES = frozenset(kind for kind in ProviderType if kind.sign_in.uses_oauth)


@dataclass(frozen=True, slots=True)  # slots: 100,000 of them in the list
class ProviderView:
    name: str
    type: ProviderType
    account: str
    receive_emails: bool
    status: Status
    last_checked_at: datetime | None = None
    last_ok_at: datetime | None = None
    failure: Failure | None = None
    report: CheckReport | None = None
    encrypted: bool = True  # False when a protocol in use has security none
    smtp_login: bool = True  # False when sending through a trusted relay without login
    sign_in: TokenStatus | None = None  # Outlook and Gmail: who is signed in, the tokens' times
    # False for a view of a light list row (tui.core.listing): the report is read when shown.
    report_read: bool = True
    # Messages received into its queue: read with the list's rows; None where not read
    # (a record read alone, the form's provider): nothing is shown then.
    queued: int | None = None
    # search_text, once built (None before: not a list per view, 5 MB with 100,000 of them)
    _search: str | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def widest_status(self) -> str:
        """The longest status this provider can show: the list sizes its column by it, so a
        check turning it "active, unencrypted" is not cut short."""
        return _widest_status(self.encrypted, self.smtp_login, self.status_text)

    @classmethod
    def from_record(cls, record: Any) -> ProviderView:
        settings = record.settings
        return cls(
            name=settings.name,
            type=settings.type,
            account=settings.account,
            receive_emails=settings.receive_emails,
            status=record.status,
            last_checked_at=record.last_checked_at,
            last_ok_at=record.last_ok_at,
            failure=record.failure,
            report=record.report,
            encrypted=settings.encrypted,
            smtp_login=settings.smtp_logs_in,
            sign_in=_token_status(record) if settings.sign_in.uses_oauth else None,
        )

    @property
    def signs_in_with_oauth(self) -> bool:
        return self.type.sign_in.uses_oauth

    @classmethod
    def from_row(cls, row: Any) -> ProviderView:
        """A light list row (tui.core.listing.ListRow): everything but the report."""
        return cls(
            name=row.name,
            type=row.type,
            account=row.account,
            receive_emails=row.inbound is not None,
            status=row.status,
            last_checked_at=row.last_checked_at,
            last_ok_at=row.last_ok_at,
            failure=row.failure,
            encrypted=row.encrypted,
            smtp_login=row.smtp_login,
            sign_in=TokenStatus(row.signed_in, row.oauth_account, row.token_expires_at, row.refresh_token_at,
                                row.shared_mailbox) if row.type in _OAUTH_TYPES else None,
            report_read=row.last_checked_at is None,  # never checked: there is no report to read
            queued=row.queued,
        )

    @property
    def needs_report(self) -> bool:
        """Checked, but the report was not read with the row (see `from_row`)."""
        return not self.report_read

    @classmethod
    def for_report(cls, draft: Any, report: CheckReport) -> ProviderView:
        """A provider as typed in the form (saved or not), after a check."""
        return cls(
            name=draft.name.strip() or UNSAVED_NAME,
            type=parse_type(draft.type) or ProviderType.SMTP_IMAP,
            account=draft.account,
            receive_emails=draft.receive_emails,
            status=report.status,
            last_checked_at=report.started_at,
            last_ok_at=report.started_at if report.ok else None,
            failure=report.failure,
            report=report,
            encrypted=report.encrypted,
            smtp_login=all(result.logged_in for result in report.results),
        )

    def with_report(self, report: CheckReport) -> ProviderView:
        """The view after a check, without reading the store again."""
        return replace(
            self,
            status=report.status,
            last_checked_at=report.started_at,
            last_ok_at=report.started_at if report.ok else self.last_ok_at,
            failure=report.failure,
            report=report,
            encrypted=report.encrypted,
            smtp_login=all(result.logged_in for result in report.results),
            report_read=True,
        )

    @property
    def status_text(self) -> str:
        """Glyph and word (see `status_text`)."""
        return status_text(
            self.status, encrypted=self.encrypted, password_missing=is_password_missing(self.failure),
            smtp_login=self.smtp_login,
        )

    @property
    def search_text(self) -> str:
        """What the filter matches (built on the first filter, then kept): name, account,
        type and status ("error", "active", "not checked", "password missing", "unencrypted")."""
        if self._search is None:
            object.__setattr__(self, "_search", self._build_search_text())  # a cache: frozen otherwise
        return self._search

    def _build_search_text(self) -> str:
        """What the filter matches: name, account, type and status ("error", "active",
        "not checked", "password missing", "unencrypted")."""
        return f"{self.name}\n{self.account}\n{self.type.label}\n{self.type.value}\n{self.status_text}".casefold()



def prepare_search(views: Iterable[ProviderView], cancelled: Callable[[], bool] = lambda: False) -> None:
    """Build each view's `search_text` (kept by the view) ahead of the filter's keys, on a
    worker thread: a row the filter reaches first builds its own, the same text."""
    for view in views:
        if cancelled():
            return
        view.search_text  # noqa: B018 (the property builds and keeps it)


def _token_status(record: Any) -> TokenStatus:
    state = record.sign_in_state
    return TokenStatus(record.token_key is not None, state.account, state.token_expires_at,
                       state.refresh_token_at, state.shared_mailbox)


@lru_cache(maxsize=None)
def _widest_status(encrypted: bool, smtp_login: bool, shown: str) -> str:
    """A handful of combinations, asked once per provider: computed once each."""
    labels = [status_text(status, encrypted=encrypted, smtp_login=smtp_login) for status in Status]
    return max([*labels, shown], key=len)


def fold_names(names: Iterable[str]) -> frozenset[str]:
    """Names as the uniqueness rule compares them (case-insensitive, trimmed): folded once
    when the list loads, not on every keystroke of the form."""
    return frozenset(name.strip().casefold() for name in names)
