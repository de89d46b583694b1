"""Every field of a provider draft, declared once.

Each face of a provider takes its names from here: the form's labels and widget ids, the
CLI's flags, the export keys (the nested path in TOML and in `--json`), the help text, and
the names the previous release used (flat TOML keys, `--imap-*` flags), which are still
accepted. A test checks that every field of `ProviderDraft` is declared here and reaches
the form, the CLI, TOML, JSON and the database.

To add a field: add it to `ProviderDraft` (domain.py), declare it here, teach the rules
(rules.py) and the store (store.py, with a migration) what it means, and give the form a
control whose id is the field's `widget_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tui.core.protocols import Protocol


class FieldKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"  # one of a few words (type, security, protocol)
    PORT = "port"  # a whole number in TOML and JSON, text in a draft
    SWITCH = "switch"  # true or false
    ADDRESSES = "addresses"  # a list in TOML and JSON, "a; b" in a draft
    SECRET = "secret"  # never exported, never shown


# The inbound fields' labels name the protocol in use: "IMAP host", "POP3 host".
INBOUND_LABEL = "{inbound}"


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the ProviderDraft attribute, and the key of a rule's message
    label: str  # what people read; "{inbound}" stands for the inbound protocol's label
    kind: FieldKind
    help: str  # the CLI's help for its flag
    flags: tuple[str, ...] = ()  # CLI flags: the first is the one shown in messages, the others aliases
    export_key: str | None = None  # "inbound.host": the path in TOML and JSON; None: never exported
    old_names: tuple[str, ...] = ()  # what the previous release called it (flat TOML key, failure field)

    @property
    def widget_id(self) -> str:
        """The id of the form's control ('inbound-host'): ids are kebab-case field names."""
        return self.name.replace("_", "-")

    @property
    def flag(self) -> str | None:
        return self.flags[0] if self.flags else None

    @property
    def export_path(self) -> tuple[str, ...]:
        return tuple(self.export_key.split(".")) if self.export_key else ()

    def label_for(self, inbound: Protocol | str | None = None) -> str:
        """The label, the inbound protocol named ("POP3 host"); IMAP when it is not known."""
        protocol = Protocol(inbound) if inbound in tuple(Protocol) else Protocol.IMAP
        return self.label.replace(INBOUND_LABEL, protocol.label)


_T, _C, _P, _S = FieldKind.TEXT, FieldKind.CHOICE, FieldKind.PORT, FieldKind.SWITCH

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "Name", _T, "unique name, 1-80 characters", ("--name",), "name"),
    FieldSpec("type", "Type", _C, "smtp-imap, outlook or gmail", ("--type",), "type"),
    FieldSpec("account", "Account", _T, "the mailbox address", ("--account",), "account"),
    FieldSpec("username", "Username", _T, "login name, when it differs from the account",
              ("--username",), "username"),
    FieldSpec("from_name", "From Name", _T, "display name on outgoing mail", ("--from-name",), "from_name"),
    FieldSpec("receive_emails", "Receive emails", _S,
              "fetch mail sent to the account (needs the inbound server)", ("--receive",), "receive_emails"),
    FieldSpec("active_reference", "Active reference", _S,
              "thread replies with Message-ID / In-Reply-To / References",
              ("--active-reference",), "active_reference"),
    FieldSpec("reply_to", "Reply to", FieldKind.ADDRESSES, "Reply-To addresses separated by ';'",
              ("--reply-to",), "reply_to"),
    FieldSpec("password", "Password", FieldKind.SECRET,
              "read the password from standard input (prompted on a terminal)", ("--password-stdin",)),
    FieldSpec("smtp_host", "SMTP host", _T, "outgoing server host", ("--smtp-host",), "outbound.host",
              ("smtp_host",)),
    FieldSpec("smtp_port", "SMTP port", _P, "outgoing server port (default follows security)",
              ("--smtp-port",), "outbound.port", ("smtp_port",)),
    FieldSpec("smtp_security", "SMTP security", _C, "starttls (TLS), ssl or none",
              ("--smtp-security",), "outbound.security", ("smtp_security",)),
    FieldSpec("smtp_sign_in", "SMTP sign-in", _C,
              "login (default) or none: send through a trusted relay (a local Postfix) without "
              "login; SMTP-IMAP only", ("--smtp-sign-in",), "outbound.sign_in"),
    FieldSpec("inbound_protocol", "Protocol", _C, "imap or pop3 (default imap)",
              ("--inbound-protocol",), "inbound.protocol"),
    FieldSpec("inbound_host", f"{INBOUND_LABEL} host", _T, "incoming server host",
              ("--inbound-host", "--imap-host"), "inbound.host", ("imap_host",)),
    FieldSpec("inbound_port", f"{INBOUND_LABEL} port", _P,
              "incoming server port (default follows protocol and security)",
              ("--inbound-port", "--imap-port"), "inbound.port", ("imap_port",)),
    FieldSpec("inbound_security", f"{INBOUND_LABEL} security", _C, "starttls (TLS), ssl or none",
              ("--inbound-security", "--imap-security"), "inbound.security", ("imap_security",)),
)

FIELD_BY_NAME: dict[str, FieldSpec] = {spec.name: spec for spec in FIELDS}
# What the previous release called a field (and, until every part speaks the new names, what
# a check may still blame): the field it is now.
OLD_NAMES: dict[str, str] = {old: spec.name for spec in FIELDS for old in spec.old_names if old != spec.name}
EXPORTED: tuple[FieldSpec, ...] = tuple(spec for spec in FIELDS if spec.export_key)


def canonical(name: str) -> str:
    """The field's name today, for a name the previous release used ('imap_host')."""
    return OLD_NAMES.get(name, name)


def field_label(name: str, inbound: Protocol | str | None = None) -> str:
    """'SMTP port', 'POP3 host' (with `inbound`), or the name itself for a field not declared."""
    spec = FIELD_BY_NAME.get(canonical(name))
    return spec.label_for(inbound) if spec else name


# Labels as a table, the inbound ones for IMAP (the default protocol); old names included.
FIELD_LABELS: dict[str, str] = {spec.name: spec.label_for() for spec in FIELDS} | {
    old: field_label(old) for old in OLD_NAMES
}
# The CLI flag that changes each field ('--smtp-port'), for messages naming what to fix.
FLAG_FOR_FIELD: dict[str, str] = {spec.name: spec.flag for spec in FIELDS if spec.flag} | {
    old: FIELD_BY_NAME[new].flag for old, new in OLD_NAMES.items()
}


def field_ref(name: str, inbound: Protocol | str | None = None) -> str:
    """'--smtp-port (SMTP port)': the flag to change and the field's name."""
    label = field_label(name, inbound)
    flag = FLAG_FOR_FIELD.get(name)
    return f"{flag} ({label})" if flag else label
