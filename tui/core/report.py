"""What an activation check found: steps, the first failure, and the redacted transcript.

Plain dataclasses with a JSON form, so the store can keep the last report and the CLI
can print it; nothing here talks to a network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum

from tui.core.domain import Status, status_text


class FailureKind(StrEnum):
    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS = "tls"
    CERTIFICATE = "certificate"
    STARTTLS_UNAVAILABLE = "starttls-unavailable"
    AUTH = "auth"
    MECHANISM = "mechanism"
    MAILBOX = "mailbox"
    PROTOCOL = "protocol"
    SECRET = "secret"  # the provider's stored password is missing or cannot be read
    LIMIT = "limit"  # the server turned the login away for now: too many connections or logins
    OAUTH = "oauth"  # the OAuth sign-in failed or its token could not be refreshed: sign in again


# Failures that may pass by themselves: worth a retry before anyone edits settings.
TRANSIENT_KINDS = frozenset({FailureKind.TIMEOUT, FailureKind.REFUSED, FailureKind.LIMIT})


@dataclass
class Step:
    name: str  # "resolve", "connect", "tls", "greeting", "ehlo", "starttls", "auth", ...
    ok: bool
    duration_ms: float
    detail: str = ""


# Told about each step of a check as it ends: on_step(protocol, step), from the checking
# thread, with the step already cleaned (the faces show progress with it).
StepCallback = Callable[[str, Step], None]


@dataclass
class Failure:
    kind: FailureKind
    message: str  # what failed, in plain words, naming the server or the account
    remedy: str  # one line: what to change
    fields: tuple[str, ...] = ()  # the form fields to blame, first one gets the focus
    transient: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> Failure:
        return cls(
            kind=FailureKind(data["kind"]),
            message=data["message"],
            remedy=data["remedy"],
            fields=tuple(data.get("fields", ())),
            transient=bool(data.get("transient", FailureKind(data["kind"]) in TRANSIENT_KINDS)),
        )


@dataclass
class ProtocolResult:
    protocol: str  # a Protocol value: "smtp", "imap" or "pop3"
    host: str
    port: int
    steps: list[Step] = field(default_factory=list)
    failure: Failure | None = None
    transcript: list[str] = field(default_factory=list)  # credentials already redacted
    summary: str = ""  # e.g. "INBOX: 12 messages, 3 unseen"
    encrypted: bool = True  # False with security none: the password travels in clear
    starttls_offered: bool = False  # on an unencrypted connection, the server offered STARTTLS
    logged_in: bool = True  # False: SMTP through a trusted relay, without login

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.steps)

    @classmethod
    def from_dict(cls, data: dict) -> ProtocolResult:
        failure = data.get("failure")
        return cls(
            protocol=data["protocol"],
            host=data["host"],
            port=int(data["port"]),
            steps=[Step(**step) for step in data.get("steps", [])],
            failure=Failure.from_dict(failure) if failure else None,
            transcript=list(data.get("transcript", [])),
            summary=data.get("summary", ""),
            encrypted=bool(data.get("encrypted", True)),
            starttls_offered=bool(data.get("starttls_offered", False)),
            logged_in=bool(data.get("logged_in", True)),
        )


def _result_dict(result: ProtocolResult) -> dict:
    failure = result.failure
    return {
        "protocol": result.protocol,
        "host": result.host,
        "port": result.port,
        "steps": [
            {"name": step.name, "ok": step.ok, "duration_ms": step.duration_ms, "detail": step.detail}
            for step in result.steps
        ],
        "failure": None if failure is None else {
            "kind": failure.kind,
            "message": failure.message,
            "remedy": failure.remedy,
            "fields": tuple(failure.fields),
            "transient": failure.transient,
        },
        "transcript": list(result.transcript),
        "summary": result.summary,
        "encrypted": result.encrypted,
        "starttls_offered": result.starttls_offered,
        "logged_in": result.logged_in,
    }


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Every time mailprov stores is UTC; SQLite hands them back without a zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def is_password_missing(failure: Failure | None) -> bool:
    """A `secret` failure: the stored password is gone or cannot be read."""
    return failure is not None and failure.kind is FailureKind.SECRET


@dataclass
class CheckReport:
    provider: str
    started_at: datetime
    outbound: ProtocolResult
    inbound: ProtocolResult | None = None  # None when the provider does not receive
    duration_ms: float = 0.0
    # True when the provider was edited (settings or password) while it was being checked:
    # the result was not saved, since it is about settings that are no longer current.
    outdated: bool = False

    @property
    def results(self) -> list[ProtocolResult]:
        return [r for r in (self.outbound, self.inbound) if r is not None]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def status(self) -> Status:
        return Status.GREEN if self.ok else Status.RED

    @property
    def failure(self) -> Failure | None:
        """The first failure, outbound before inbound."""
        return next((r.failure for r in self.results if r.failure), None)

    @property
    def encrypted(self) -> bool:
        """Whether every protocol checked keeps the password encrypted on the wire."""
        return all(result.encrypted for result in self.results)

    @property
    def status_text(self) -> str:
        return status_text(self.status, encrypted=self.encrypted, password_missing=is_password_missing(self.failure),
                           smtp_login=all(result.logged_in for result in self.results))

    def to_dict(self) -> dict:
        # What dataclasses.asdict() gives (a test keeps them equal), built directly: asdict's
        # deep copies cost 1 ms per report, which `provider list --json` pays 10,000 times.
        data = {
            "provider": self.provider,
            "started_at": self.started_at.isoformat(),
            "outbound": _result_dict(self.outbound),
            "inbound": _result_dict(self.inbound) if self.inbound is not None else None,
            "duration_ms": self.duration_ms,
        }
        data["status"] = self.status.value
        data["encrypted"] = self.encrypted
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CheckReport:
        inbound = data.get("inbound")
        return cls(
            provider=data["provider"],
            started_at=datetime.fromisoformat(data["started_at"]),
            outbound=ProtocolResult.from_dict(data["outbound"]),
            inbound=ProtocolResult.from_dict(inbound) if inbound else None,
            duration_ms=float(data.get("duration_ms", 0.0)),
        )
