"""The email provider as the rest of the program sees it: types, presets, drafts, settings.

A *draft* is what a person typed (strings, as in a form or on a command line); the rules in
`tui.core.rules` turn a valid draft into *settings* (typed, normalised values). Both faces,
the CLI and the TUI, go through the same draft -> rules -> settings path.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum

# What a repr shows in place of a secret that is set.
HIDDEN = "<hidden>"


def repr_hiding(obj: object, *secret_fields: str) -> str:
    """A dataclass's usual repr, with each set secret field shown as <hidden>: a draft or an
    import action printed in a traceback, a log line or a debugger never shows a password."""
    shown = []
    for f in fields(obj):
        if not f.repr:
            continue
        value = getattr(obj, f.name)
        shown.append(f"{f.name}={HIDDEN if f.name in secret_fields and value else repr(value)}")
    return f"{type(obj).__name__}({', '.join(shown)})"


class ProviderType(StrEnum):
    SMTP_IMAP = "smtp-imap"
    OUTLOOK = "outlook"
    GMAIL = "gmail"

    @property
    def label(self) -> str:
        return TYPE_LABELS[self]

    @property
    def uses_password(self) -> bool:
        return self is ProviderType.SMTP_IMAP

    @property
    def uses_oauth(self) -> bool:
        return not self.uses_password


TYPE_LABELS = {
    ProviderType.SMTP_IMAP: "SMTP-IMAP",
    ProviderType.OUTLOOK: "Outlook",
    ProviderType.GMAIL: "Gmail",
}


class Security(StrEnum):
    STARTTLS = "starttls"
    SSL = "ssl"
    NONE = "none"

    @property
    def label(self) -> str:
        return SECURITY_LABELS[self]


# What the user sees: the platform has always called STARTTLS "TLS".
SECURITY_LABELS = {Security.STARTTLS: "TLS", Security.SSL: "SSL", Security.NONE: "None"}

DEFAULT_PORTS: dict[str, dict[Security, int]] = {
    "smtp": {Security.STARTTLS: 587, Security.SSL: 465, Security.NONE: 25},
    "imap": {Security.STARTTLS: 143, Security.SSL: 993, Security.NONE: 143},
}


def default_port(protocol: str, security: Security | str) -> int:
    return DEFAULT_PORTS[protocol][Security(security)]


class Status(StrEnum):
    GREY = "grey"  # never activated, or settings changed since the last check
    RED = "red"  # the last activation failed
    GREEN = "green"  # active

    @property
    def glyph(self) -> str:
        return STATUS_GLYPHS[self]

    @property
    def word(self) -> str:
        return STATUS_WORDS[self]

    @property
    def text(self) -> str:
        """Glyph and word: status is never told by colour alone."""
        return f"{self.glyph} {self.word}"


STATUS_GLYPHS = {Status.GREY: "○", Status.RED: "✖", Status.GREEN: "●"}
STATUS_WORDS = {Status.GREY: "not checked", Status.RED: "error", Status.GREEN: "active"}


PASSWORD_MISSING = "✖ password missing"


def status_text(status: Status, *, encrypted: bool = True, password_missing: bool = False) -> str:
    """The status as every face shows it: glyph and word; "✖ password missing" when the
    stored password is gone or unreadable (never a plain "not checked"); "● active,
    unencrypted" for a working provider whose password travels in clear (security none)."""
    if password_missing:
        return PASSWORD_MISSING
    if status is Status.GREEN and not encrypted:
        return f"{status.text}, unencrypted"
    return status.text


@dataclass(frozen=True)
class ServerPreset:
    smtp_host: str
    smtp_port: int
    smtp_security: Security
    imap_host: str
    imap_port: int
    imap_security: Security


PRESETS: dict[ProviderType, ServerPreset] = {
    ProviderType.GMAIL: ServerPreset(
        "smtp.gmail.com", 587, Security.STARTTLS, "imap.gmail.com", 993, Security.SSL
    ),
    ProviderType.OUTLOOK: ServerPreset(
        "smtp-mail.outlook.com", 587, Security.STARTTLS, "outlook.office365.com", 993, Security.SSL
    ),
}

# Field names, shared by the rules, the store, the CLI flags and the form widgets' ids.
CONNECTION_FIELDS = (
    "type",
    "account",
    "username",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "imap_host",
    "imap_port",
    "imap_security",
    "receive_emails",
)

FIELD_LABELS = {
    "name": "Name",
    "type": "Type",
    "account": "Account",
    "username": "Username",
    "from_name": "From Name",
    "receive_emails": "Receive emails",
    "active_reference": "Active reference",
    "reply_to": "Reply to",
    "password": "Password",
    "smtp_host": "SMTP host",
    "smtp_port": "SMTP port",
    "smtp_security": "SMTP security",
    "imap_host": "IMAP host",
    "imap_port": "IMAP port",
    "imap_security": "IMAP security",
}


@dataclass
class ProviderDraft:
    """Raw values as typed. Empty port means "the standard port for the security";
    empty hosts on Outlook/Gmail mean "the preset"; `password` empty with
    `password_stored` true means "keep the stored password"."""

    name: str = ""
    type: str = ProviderType.SMTP_IMAP.value
    account: str = ""
    username: str = ""
    from_name: str = ""
    receive_emails: bool = True
    active_reference: bool = True
    reply_to: str = ""
    password: str = ""
    password_stored: bool = False
    smtp_host: str = ""
    smtp_port: str = ""
    smtp_security: str = Security.STARTTLS.value
    imap_host: str = ""
    imap_port: str = ""
    imap_security: str = Security.SSL.value

    def updated(self, **changes: object) -> ProviderDraft:
        return replace(self, **changes)

    def __repr__(self) -> str:
        return repr_hiding(self, "password")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class ProviderSettings:
    """A provider's validated settings (no secret in here: the password lives in keyring)."""

    name: str
    type: ProviderType
    account: str
    username: str  # the login name; equals the account unless the user set another
    from_name: str
    receive_emails: bool
    active_reference: bool
    reply_to: tuple[str, ...]
    smtp_host: str
    smtp_port: int
    smtp_security: Security
    imap_host: str
    imap_port: int
    imap_security: Security

    @property
    def protocols(self) -> tuple[str, ...]:
        """The protocols in use: SMTP always, IMAP when the provider receives mail."""
        return ("smtp", "imap") if self.receive_emails else ("smtp",)

    @property
    def unencrypted_protocols(self) -> tuple[str, ...]:
        """The protocols in use with security none: their login and mail travel in clear."""
        return tuple(p for p in self.protocols if getattr(self, f"{p}_security") is Security.NONE)

    @property
    def encrypted(self) -> bool:
        return not self.unencrypted_protocols

    def connection_key(self) -> tuple:
        """What a successful check depends on: changing any of it makes the status grey again."""
        return tuple(getattr(self, name) for name in CONNECTION_FIELDS)

    def to_draft(self, password_stored: bool = False) -> ProviderDraft:
        return ProviderDraft(
            name=self.name,
            type=self.type.value,
            account=self.account,
            username="" if self.username == self.account else self.username,
            from_name=self.from_name,
            receive_emails=self.receive_emails,
            active_reference=self.active_reference,
            reply_to="; ".join(self.reply_to),
            password_stored=password_stored,
            smtp_host=self.smtp_host,
            smtp_port=str(self.smtp_port),
            smtp_security=self.smtp_security.value,
            imap_host=self.imap_host,
            imap_port=str(self.imap_port),
            imap_security=self.imap_security.value,
        )


class ValidationError(ValueError):
    """Raised with every field's message at once: {field: message}."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in errors.items()))

