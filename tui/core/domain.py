"""The email provider as the rest of the program sees it: types, presets, drafts, settings.

A *draft* is what a person typed (strings, as in a form or on a command line); the rules in
`tui.core.rules` turn a valid draft into *settings* (typed, normalised values). Both faces,
the CLI and the TUI, go through the same draft -> rules -> settings path.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum

from tui.core.fields import FIELD_LABELS, field_label
from tui.core.protocols import INBOUND_PROTOCOLS, Protocol, Security, default_port

# Re-exported for the faces.
__all__ = ["FIELD_LABELS", "INBOUND_PROTOCOLS", "Protocol", "Security", "default_port", "field_label"]

# What a repr shows in place of a secret that is set.
HIDDEN = "<hidden>"
# The name a provider goes by in a check of a form that has no name yet.
UNSAVED_NAME = "(unsaved)"


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
    def sign_in(self) -> SignIn:
        """How a provider of this type signs in (today the type decides it)."""
        return SIGN_IN_OF_TYPE[self]


class SecretSlot(StrEnum):
    """The secrets a provider may keep in the secret store, each under its own key."""

    PASSWORD = "password"  # the mailbox password (the row's `secret_key`)
    OAUTH_TOKEN = "oauth-token"  # an OAuth sign-in's token cache (the row's `token_key`)


class SignIn(StrEnum):
    """How a provider proves who it is: a password, or an OAuth sign-in with a company's account.

    To add a sign-in method: a member here (and the slot its secret lives in), the type that
    uses it in SIGN_IN_OF_TYPE, and what `tui.core.credentials` gives a check for it."""

    PASSWORD = "password"
    MICROSOFT = "microsoft"
    GOOGLE = "google"

    @property
    def uses_password(self) -> bool:
        return self is SignIn.PASSWORD

    @property
    def uses_oauth(self) -> bool:
        return not self.uses_password

    @property
    def slot(self) -> SecretSlot:
        """The secret this sign-in keeps: a password, or the OAuth token cache."""
        return SecretSlot.PASSWORD if self.uses_password else SecretSlot.OAUTH_TOKEN

    @property
    def label(self) -> str:
        return SIGN_IN_LABELS[self]


SIGN_IN_OF_TYPE = {
    ProviderType.SMTP_IMAP: SignIn.PASSWORD,
    ProviderType.OUTLOOK: SignIn.MICROSOFT,
    ProviderType.GMAIL: SignIn.GOOGLE,
}

SIGN_IN_LABELS = {
    SignIn.PASSWORD: "password",
    SignIn.MICROSOFT: "Microsoft sign-in",
    SignIn.GOOGLE: "Google sign-in",
}

TYPE_LABELS = {
    ProviderType.SMTP_IMAP: "SMTP-IMAP",
    ProviderType.OUTLOOK: "Outlook",
    ProviderType.GMAIL: "Gmail",
}


class SmtpSignIn(StrEnum):
    """Whether sending logs in: `login` (the provider's password or sign-in, the usual case)
    or `none`, for a trusted relay (a local Postfix) that takes mail from this machine
    without AUTH. Only SMTP-IMAP providers may say none; the inbound server always logs in."""

    LOGIN = "login"
    NONE = "none"


# What the status adds when sending uses no login ("● active, no SMTP login").
NO_SMTP_LOGIN = "no SMTP login"


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


def status_text(status: Status, *, encrypted: bool = True, password_missing: bool = False,
                smtp_login: bool = True) -> str:
    """The status as every face shows it: glyph and word; "✖ password missing" when the
    stored password is gone or unreadable (never a plain "not checked"); "● active,
    unencrypted" for a working provider whose password travels in clear (security none);
    "● active, no SMTP login" for one sending through a trusted relay without login."""
    if password_missing:
        return PASSWORD_MISSING
    if status is not Status.GREEN:
        return status.text
    notes = ([] if encrypted else ["unencrypted"]) + ([] if smtp_login else [NO_SMTP_LOGIN])
    return ", ".join([status.text, *notes])


@dataclass(frozen=True)
class ServerSettings:
    """Where one protocol's server is and how the connection is secured."""

    host: str
    port: int
    security: Security


@dataclass(frozen=True)
class InboundSettings:
    """Where mail is fetched from: IMAP or POP3."""

    protocol: Protocol
    server: ServerSettings


@dataclass(frozen=True)
class ServerPreset:
    """The servers a provider type comes with (Outlook, Gmail); each can be overridden."""

    outbound: ServerSettings
    inbound: dict[Protocol, ServerSettings]

    def server(self, protocol: Protocol | str) -> ServerSettings | None:
        protocol = Protocol(protocol)
        return self.outbound if protocol is Protocol.SMTP else self.inbound.get(protocol)


PRESETS: dict[ProviderType, ServerPreset] = {
    ProviderType.GMAIL: ServerPreset(
        outbound=ServerSettings("smtp.gmail.com", 587, Security.STARTTLS),
        inbound={
            Protocol.IMAP: ServerSettings("imap.gmail.com", 993, Security.SSL),
            Protocol.POP3: ServerSettings("pop.gmail.com", 995, Security.SSL),
        },
    ),
    ProviderType.OUTLOOK: ServerPreset(
        outbound=ServerSettings("smtp-mail.outlook.com", 587, Security.STARTTLS),
        inbound={
            Protocol.IMAP: ServerSettings("outlook.office365.com", 993, Security.SSL),
            Protocol.POP3: ServerSettings("outlook.office365.com", 995, Security.SSL),
        },
    ),
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
    smtp_security: str = Protocol.SMTP.spec.default_security.value
    smtp_sign_in: str = SmtpSignIn.LOGIN.value
    inbound_protocol: str = Protocol.IMAP.value
    inbound_host: str = ""
    inbound_port: str = ""
    inbound_security: str = Protocol.IMAP.spec.default_security.value

    def updated(self, **changes: object) -> ProviderDraft:
        return replace(self, **changes)

    def __repr__(self) -> str:
        return repr_hiding(self, "password")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class ProviderSettings:
    """A provider's validated settings (no secret in here: secrets live in keyring)."""

    name: str
    type: ProviderType
    sign_in: SignIn
    account: str
    username: str  # the login name; equals the account unless the user set another
    from_name: str
    active_reference: bool
    reply_to: tuple[str, ...]
    outbound: ServerSettings  # always SMTP
    inbound: InboundSettings | None  # None: Receive emails is off, the provider only sends
    smtp_sign_in: SmtpSignIn = SmtpSignIn.LOGIN  # none: a trusted relay, no AUTH when sending

    @property
    def receive_emails(self) -> bool:
        return self.inbound is not None

    @property
    def smtp_logs_in(self) -> bool:
        """Sending logs in (False for a trusted relay: "SMTP sign-in: none")."""
        return self.smtp_sign_in is SmtpSignIn.LOGIN

    @property
    def needs_password(self) -> bool:
        """A password is needed by some server in use: the SMTP login, or the inbound one."""
        return self.sign_in.uses_password and (self.smtp_logs_in or self.receive_emails)

    @property
    def servers(self) -> tuple[tuple[Protocol, ServerSettings], ...]:
        """The servers in use, outbound first: SMTP always, the inbound one when receiving."""
        servers = ((Protocol.SMTP, self.outbound),)
        if self.inbound is not None:
            servers += ((self.inbound.protocol, self.inbound.server),)
        return servers

    @property
    def protocols(self) -> tuple[Protocol, ...]:
        return tuple(protocol for protocol, _ in self.servers)

    @property
    def unencrypted_protocols(self) -> tuple[Protocol, ...]:
        """The protocols in use with security none: their login and mail travel in clear."""
        return tuple(protocol for protocol, server in self.servers if server.security is Security.NONE)

    @property
    def encrypted(self) -> bool:
        return not self.unencrypted_protocols

    def connection_key(self) -> tuple:
        """What a successful check depends on: changing any of it makes the status grey again."""
        return (self.type, self.sign_in, self.account, self.username, self.outbound, self.inbound,
                self.smtp_sign_in)

    def to_draft(self, password_stored: bool = False) -> ProviderDraft:
        inbound = self.inbound
        # Receiving off: the inbound fields are empty, ready for IMAP if it is turned on.
        protocol = inbound.protocol if inbound else Protocol.IMAP
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
            smtp_host=self.outbound.host,
            smtp_port=str(self.outbound.port),
            smtp_security=self.outbound.security.value,
            smtp_sign_in=self.smtp_sign_in.value,
            inbound_protocol=protocol.value,
            inbound_host=inbound.server.host if inbound else "",
            inbound_port=str(inbound.server.port) if inbound else "",
            inbound_security=(inbound.server.security if inbound else protocol.spec.default_security).value,
        )


class ValidationError(ValueError):
    """Raised with every field's message at once: {field: message}. `inbound` is the draft's
    inbound protocol, so the inbound fields are named as the user knows them ("POP3 host")."""

    def __init__(self, errors: dict[str, str], inbound: Protocol | None = None):
        self.errors = dict(errors)
        self.inbound = inbound
        super().__init__("; ".join(f"{self.label(k)}: {v}" for k, v in errors.items()))

    def label(self, field_name: str) -> str:
        return field_label(field_name, self.inbound)

