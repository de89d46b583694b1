"""What is read back from the provider table, without SQLAlchemy: the full `ProviderRecord`
(settings, status, failure, and the last report when asked for) and the light
`ProviderSummary` a list shows.

Both are built from plain rows (a mapping from column name to value), so the store (through
SQLAlchemy) and the quick read path of read-only commands (`tui.core.reader`, stdlib sqlite3)
share the same SQL and the same conversions. The SQL uses `:name` parameters, which both
sqlite3 and SQLAlchemy's `text()` understand.

The last report (about 4.5 KB of JSON, with its transcript) lives in its own table,
`check_report`, keyed by the provider's id: a list reads only the provider table, whose
summary columns (status, last check, last success, failure kind, the check's encryption and
summary line) are written in the same transaction as the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, NamedTuple

from tui.core.domain import (
    InboundSettings,
    Protocol,
    ProviderSettings,
    ProviderType,
    SecretSlot,
    Security,
    ServerSettings,
    SignIn,
    SmtpSignIn,
    Status,
    status_text,
)
from tui.core.report import CheckReport, Failure, FailureKind, as_utc, is_password_missing

# The newest migration in tui/core/migrations/versions (the store's HEAD_REVISION). A test
# keeps the two in step; knowing it here lets an up-to-date database open without importing
# Alembic, and the quick read path (tui.core.reader) without importing SQLAlchemy.
HEAD_REVISION = "0008"

# What a list shows of each provider: no report, no secret key, no settings object.
SUMMARY_COLUMNS = (
    "id", "name", "type", "account", "inbound_protocol", "smtp_security", "inbound_security",
    "status", "last_checked_at", "last_ok_at", "error_kind", "smtp_sign_in",
)
SUMMARIES_SQL = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM provider ORDER BY name_key"
REPORT_SQL = "SELECT report FROM check_report WHERE provider_id = :id"
REPORT_BY_NAME_SQL = (
    "SELECT check_report.report FROM check_report JOIN provider ON provider.id = check_report.provider_id"
    " WHERE provider.name_key = :name_key"
)


class NotFoundError(LookupError):
    def __init__(self, name: str):
        super().__init__(f"No provider named '{name}'.")
        self.name = name


# The campaigns' errors live here, with no SQLAlchemy, so the CLI can catch them cheaply.
class CampaignNotFound(LookupError):
    def __init__(self, name: str):
        super().__init__(f"No campaign named '{name}'.")
        self.name = name


class ProviderInUse(Exception):
    """A provider that campaigns use was to be deleted (or detached) without `force`."""

    def __init__(self, provider: str, campaigns: list[str]):
        names = ", ".join(f"'{name}'" for name in campaigns)
        super().__init__(f"'{provider}' is used by the campaign(s) {names}.")
        self.provider = provider
        self.campaigns = campaigns


@dataclass(frozen=True)
class OAuthAppRecord:
    method: str
    client_id: str
    tenant: str | None
    authority_host: str | None
    auth_uri: str | None
    token_uri: str | None
    secret_key: str | None
    updated_at: datetime


@dataclass(frozen=True)
class SignInState:
    """What is known about a provider's OAuth sign-in without reading the secret store."""

    account: str | None = None  # who signed in
    token_expires_at: datetime | None = None
    refresh_token_at: datetime | None = None
    shared_mailbox: bool = False


@dataclass(frozen=True)
class ProviderRecord:
    id: int
    secret_key: str  # the password slot's key
    settings: ProviderSettings
    status: Status
    last_checked_at: datetime | None
    last_ok_at: datetime | None
    failure: Failure | None
    report: CheckReport | None  # None when never checked, or when read without reports
    created_at: datetime
    updated_at: datetime
    token_key: str | None = None  # the OAuth token cache slot's key, once signed in
    sign_in_state: SignInState = SignInState()

    @property
    def name(self) -> str:
        return self.settings.name

    def slot_key(self, slot: SecretSlot) -> str | None:
        """The key of one of the provider's secret slots (None: that slot is empty)."""
        return self.secret_key if slot is SecretSlot.PASSWORD else self.token_key

    @property
    def secret_keys(self) -> list[str]:
        """The keys of every slot in use: what deleting the provider deletes."""
        return [key for key in (self.secret_key, self.token_key) if key]

    @property
    def status_text(self) -> str:
        """Glyph and word (see `status_text`)."""
        return status_text(
            self.status, encrypted=self.settings.encrypted, password_missing=is_password_missing(self.failure),
            smtp_login=self.settings.smtp_logs_in,
        )


class ProviderSummary(NamedTuple):
    """One row of a provider list: what the list and `provider list` show, read from the
    provider table alone (the report is read when one provider is opened)."""

    id: int
    name: str
    type: ProviderType
    account: str
    inbound_protocol: Protocol | None  # None: Receive emails is off
    status: Status
    last_checked_at: datetime | None
    last_ok_at: datetime | None
    failure_kind: FailureKind | None  # the last check's failure, None when it passed or never ran
    encrypted: bool  # False when a protocol in use has security none
    smtp_login: bool = True  # False: sends through a trusted relay without SMTP login

    @property
    def receive_emails(self) -> bool:
        return self.inbound_protocol is not None

    @property
    def status_text(self) -> str:
        return status_text(
            self.status, encrypted=self.encrypted, password_missing=self.failure_kind is FailureKind.SECRET,
            smtp_login=self.smtp_login,
        )


def summary_of(row: Any) -> ProviderSummary:
    """A ProviderSummary from a row of SUMMARIES_SQL (a tuple in SUMMARY_COLUMNS order)."""
    (row_id, name, kind, account, inbound_protocol, smtp_security, inbound_security,
     status, last_checked_at, last_ok_at, error_kind, smtp_sign_in) = row
    none = Security.NONE.value
    # Enum members by value through dicts: a list of 100,000 calls this that many times.
    return ProviderSummary(
        row_id,
        name,
        _TYPES[kind],
        account,
        _PROTOCOLS[inbound_protocol] if inbound_protocol else None,
        _STATUSES[status],
        moment(last_checked_at),
        moment(last_ok_at),
        _FAILURE_KINDS[error_kind] if error_kind else None,
        smtp_security != none and (inbound_protocol is None or inbound_security != none),
        smtp_sign_in != SmtpSignIn.NONE.value,
    )


_TYPES = {member.value: member for member in ProviderType}
_PROTOCOLS = {member.value: member for member in Protocol}
_STATUSES = {member.value: member for member in Status}
_FAILURE_KINDS = {member.value: member for member in FailureKind}
_SECURITIES = {member.value: member for member in Security}
_SIGN_INS = {member.value: member for member in SignIn}


def settings_of(row: Mapping[str, Any]) -> ProviderSettings:
    inbound = None
    if row["inbound_protocol"]:
        server = ServerSettings(row["inbound_host"] or "", int(row["inbound_port"]), _SECURITIES[row["inbound_security"]])
        inbound = InboundSettings(_PROTOCOLS[row["inbound_protocol"]], server)
    reply_to = row["reply_to"]
    return ProviderSettings(
        name=row["name"],
        type=_TYPES[row["type"]],
        sign_in=_SIGN_INS[row["sign_in"]],
        account=row["account"],
        username=row["username"] or row["account"],
        from_name=row["from_name"] or "",
        active_reference=bool(row["active_reference"]),
        reply_to=tuple(json.loads(reply_to)) if reply_to and reply_to != "[]" else (),
        outbound=ServerSettings(row["smtp_host"], int(row["smtp_port"]), _SECURITIES[row["smtp_security"]]),
        inbound=inbound,
        smtp_sign_in=SmtpSignIn(row["smtp_sign_in"] or SmtpSignIn.LOGIN.value),
    )


def failure_of(row: Mapping[str, Any]) -> Failure | None:
    return failure_from_columns(row["error_kind"], row["error_message"], row["error_remedy"], row["error_fields"])


def failure_from_columns(kind: str | None, message: str | None, remedy: str | None,
                         fields_json: str | None) -> Failure | None:
    """The last failure from the provider row's error_* columns (None when it had none)."""
    if not kind:
        return None
    return Failure.from_dict({"kind": kind, "message": message or "", "remedy": remedy or "",
                              "fields": json.loads(fields_json or "[]")})


def _exact_failure(failure: Failure | None, report: CheckReport | None) -> Failure | None:
    """The row keeps a failure's words, not whether it may pass by itself: that depends on
    what the check saw (a refused connection is transient only on a mail port), so the
    report says it when it was read."""
    if failure is None or report is None or report.failure is None or report.failure.kind is not failure.kind:
        return failure
    return replace(failure, transient=report.failure.transient)


def record_of(row: Mapping[str, Any], report_json: str | None = None) -> ProviderRecord:
    """A ProviderRecord from a full provider row and, when read, its report's JSON."""
    report = report_of(report_json)
    return ProviderRecord(
        id=row["id"],
        secret_key=row["secret_key"],
        settings=settings_of(row),
        status=_STATUSES[row["status"]],
        last_checked_at=moment(row["last_checked_at"]),
        last_ok_at=moment(row["last_ok_at"]),
        failure=_exact_failure(failure_of(row), report),
        report=report,
        created_at=moment(row["created_at"]),
        updated_at=moment(row["updated_at"]),
        token_key=row["token_key"],
        sign_in_state=SignInState(
            account=row["oauth_account"],
            token_expires_at=moment(row["token_expires_at"]),
            refresh_token_at=moment(row["refresh_token_at"]),
            shared_mailbox=bool(row["shared_mailbox"]),
        ),
    )


def report_of(report_json: str | None) -> CheckReport | None:
    return CheckReport.from_dict(json.loads(report_json)) if report_json else None


def summary_columns(report: CheckReport) -> dict[str, object]:
    """The columns of the provider row that summarise a saved report (see the module doc)."""
    failure = report.failure
    return {
        "status": report.status.value,
        "last_checked_at": report.started_at,
        "error_kind": failure.kind.value if failure else None,
        "error_message": failure.message if failure else None,
        "error_remedy": failure.remedy if failure else None,
        "error_fields": json.dumps(list(failure.fields) if failure else []),
        "check_encrypted": report.encrypted,
        "check_summary": check_summary(report),
    }


def still_as_checked(row: Mapping[str, Any], checked: ProviderRecord) -> bool:
    """Whether a provider row still has the connection settings and the secret keys a check
    ran with: only then is its report about the provider as it is now."""
    return (row["secret_key"], row["token_key"]) == (checked.secret_key, checked.token_key) and (
        settings_of(row).connection_key() == checked.settings.connection_key()
    )


def save_checked_reports(
    fetch_row: Callable[[str, dict], Mapping[str, Any] | None],
    run: Callable[[str, dict], None],
    checked_reports: list[tuple[ProviderRecord, CheckReport]],
    stamp: Callable[[datetime], Any] = lambda moment: moment,
) -> list[bool]:
    """Save check reports, each only while its row is still as checked (see
    still_as_checked), in the caller's transaction: the row's summary columns and its report.
    `fetch_row(sql, params)` and `run(sql, params)` execute this module's SQL (`:name`
    parameters) on the caller's connection; `stamp` turns a time into what the database
    stores. For each report, whether it was saved."""
    saved = []
    for checked, report in checked_reports:
        row = fetch_row("SELECT * FROM provider WHERE id = :id", {"id": checked.id})
        current = row is not None and still_as_checked(row, checked)
        if current:
            columns = summary_columns(report)
            columns["last_checked_at"] = stamp(report.started_at)
            if report.ok:
                columns["last_ok_at"] = stamp(report.started_at)
            assignments = ", ".join(f"{column} = :{column}" for column in columns)
            run(f"UPDATE provider SET {assignments} WHERE id = :id", {**columns, "id": checked.id})
            run("DELETE FROM check_report WHERE provider_id = :id", {"id": checked.id})
            run("INSERT INTO check_report (provider_id, report) VALUES (:id, :report)",
                {"id": checked.id, "report": json.dumps(report.to_dict())})
        saved.append(current)
    return saved


def sqlite_stamp(moment: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite: UTC, without a zone, to the microsecond."""
    return as_utc(moment).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def new_secret_key() -> str:
    import uuid  # here: reading commands never make a key (uuid imports platform)

    return uuid.uuid4().hex


def check_summary(report: CheckReport) -> str:
    """One line of what the servers said ("IMAP: INBOX: 12 messages, 3 unseen")."""
    return "; ".join(f"{r.protocol.upper()}: {r.summary}" for r in report.results if r.summary)


def moment(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands back text without a zone, other
    databases datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        # Stored in UTC without a zone ("2026-11-27 09:00:00.000000"): parsed as UTC at once.
        zoned = value.endswith("Z") or "+" in value[19:] or "-" in value[19:]
        return as_utc(datetime.fromisoformat(value)) if zoned else datetime.fromisoformat(value + "+00:00")
    return as_utc(value)
