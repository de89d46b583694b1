"""The one rule set for email providers: draft in, {field: message} out.

The CLI, the TOML import and the live form all call `validate()`; nothing else decides
whether a provider's settings are acceptable. Messages are sentences meant to be shown
under the field (the field's label is added by whoever shows them elsewhere).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from tui.core.domain import (
    INBOUND_PROTOCOLS,
    PRESETS,
    InboundSettings,
    Protocol,
    ProviderDraft,
    ProviderSettings,
    ProviderType,
    Security,
    ServerSettings,
    SmtpSignIn,
    ValidationError,
)
from tui.core.hosts import is_ip_literal
from tui.core.text import visible

NAME_MAX = 80
FROM_NAME_MAX = 120
USERNAME_MAX = 254
HOST_MAX = 253
# A password travels inside one protocol line (IMAP LOGIN, SMTP AUTH): a CR or LF would end
# that line and let the rest run as a command of its own; NUL ends AUTH PLAIN's fields.
PASSWORD_FORBIDDEN = {"\r": "CR", "\n": "LF", "\0": "NUL"}
PASSWORD_MAX_BYTES = 1024

_TYPE_ALIASES = {
    "smtp-imap": ProviderType.SMTP_IMAP,
    "smtp_imap": ProviderType.SMTP_IMAP,
    "smtpimap": ProviderType.SMTP_IMAP,
    "smtp": ProviderType.SMTP_IMAP,
    "outlook": ProviderType.OUTLOOK,
    "microsoft": ProviderType.OUTLOOK,
    "gmail": ProviderType.GMAIL,
    "google": ProviderType.GMAIL,
}
# "TLS" is what the platform's users call STARTTLS.
_SECURITY_ALIASES = {
    "starttls": Security.STARTTLS,
    "tls": Security.STARTTLS,
    "ssl": Security.SSL,
    "ssl/tls": Security.SSL,
    "none": Security.NONE,
    "plain": Security.NONE,
    "": None,
}
_SMTP_SIGN_IN_ALIASES = {"login": SmtpSignIn.LOGIN, "": SmtpSignIn.LOGIN, "none": SmtpSignIn.NONE}
_PROTOCOL_ALIASES = {protocol.value: protocol for protocol in INBOUND_PROTOCOLS} | {"pop": Protocol.POP3}
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A last label that is a number (decimal, or 0x hex) makes the resolver read the whole name
# as an IPv4 address in one of inet_aton's forms: "1.2.3" is 1.2.0.3, "0x7f.1" is 127.0.0.1.
_NUMERIC_LABEL_RE = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_REPLY_TO_SPLIT = re.compile(r"[;,]")


def parse_type(text: str) -> ProviderType | None:
    return _TYPE_ALIASES.get(str(text).strip().lower())


def parse_security(text: str) -> Security | None:
    return _SECURITY_ALIASES.get(str(text).strip().lower())


def parse_smtp_sign_in(text: str) -> SmtpSignIn | None:
    """login or none; empty means login, the usual one."""
    return _SMTP_SIGN_IN_ALIASES.get(str(text).strip().lower())


def parse_inbound_protocol(text: str) -> Protocol | None:
    """IMAP or POP3; empty means IMAP, the usual one."""
    return _PROTOCOL_ALIASES.get(str(text).strip().lower() or Protocol.IMAP.value)


def has_surrogates(text: str) -> bool:
    """Lone surrogates: what Python makes of bytes that are not UTF-8 in an argument or an
    environment variable. Such text cannot be stored, sent or printed as it is."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def check_name(text: str, existing_names: Iterable[str] = ()) -> str | None:
    name = text.strip()
    if not name:
        return "Give the provider a name."
    if len(name) > NAME_MAX:
        return f"Use at most {NAME_MAX} characters (this has {len(name)})."
    if has_control_chars(name):
        return "A name cannot contain line breaks or control characters."
    taken = {n.strip().casefold() for n in existing_names}
    if name.casefold() in taken:
        return f"A provider named '{name}' already exists."
    return None


def normalise_address(text: str) -> tuple[str | None, str | None]:
    """(normalised address, None) or (None, message). Syntax only: no DNS while typing."""
    from email_validator import EmailNotValidError, validate_email

    address = text.strip()
    if not address:
        return None, "Enter the mailbox address, like support@example.com."
    try:
        result = validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return None, f"'{address}' is not a valid address: {exc}"
    # Keep the local part as typed: mail servers may treat login names case-sensitively.
    local_part = address.rsplit("@", 1)[0]
    return f"{local_part}@{result.domain}", None


def check_password(password: str) -> str | None:
    """A password is sent as typed; only what would break the protocol line is refused.
    The message never quotes the password."""
    found = [label for char, label in PASSWORD_FORBIDDEN.items() if char in password]
    if found:
        return f"A password cannot contain line breaks or NUL characters (this one has {' and '.join(found)})."
    size = len(password.encode("utf-8"))
    if size > PASSWORD_MAX_BYTES:
        return f"Use a password of at most {PASSWORD_MAX_BYTES} bytes (this one has {size})."
    return None


def check_from_name(text: str) -> str | None:
    if has_control_chars(text):
        return "A From Name cannot contain line breaks or control characters."
    if len(text.strip()) > FROM_NAME_MAX:
        return f"Use at most {FROM_NAME_MAX} characters (this has {len(text.strip())})."
    return None


def check_username(text: str) -> str | None:
    username = text.strip()
    if len(username) > USERNAME_MAX:
        return f"Use at most {USERNAME_MAX} characters."
    if has_control_chars(username) or any(ch.isspace() for ch in username):
        return "A login name cannot contain spaces or control characters."
    return None


def parse_reply_to(text: str) -> tuple[tuple[str, ...], str | None]:
    """Addresses separated by ';' (or ','); each validated, duplicates dropped."""
    seen: dict[str, str] = {}
    for piece in _REPLY_TO_SPLIT.split(text):
        if not piece.strip():
            continue
        address, error = normalise_address(piece)
        if error:
            return (), error
        seen.setdefault(address.casefold(), address)
    return tuple(seen.values()), None


def check_host(text: str, label: str = "host") -> str | None:
    """None when `text` is a DNS name (IDNA allowed) or an IP literal, else what is wrong."""
    host = text.strip()
    if not host:
        return f"Enter the {label} name, like mail.example.com."
    if "://" in host:
        scheme = host.split("://", 1)[0]
        return f"Enter only the host name, without '{scheme}://'."
    if any(ch.isspace() for ch in host):
        return "A host name cannot contain spaces."
    if "/" in host or "\\" in host:
        return "A host name has no path: remove everything from '/'."
    if "@" in host:
        return "That looks like an address: enter the server's host name here."
    if _has_invisible_chars(host):
        return "A host name cannot contain control or invisible characters (like a zero-width space)."
    if is_ip_literal(host):
        return None
    if ":" in host:
        return "Put the port in the port field, not after the host name."
    return _check_dns_name(host)


def _has_invisible_chars(host: str) -> bool:
    """Control and format characters, and whatever IDNA would silently drop (zero-width
    space, soft hyphen, variation selectors): a name that looks like another one."""
    import idna

    if has_control_chars(host):
        return True
    for char in set(host):
        try:
            if not idna.uts46_remap(char, std3_rules=False):
                return True
        except idna.IDNAError:
            pass  # a disallowed character: the IDNA check below names the host as invalid
    return False


def _check_dns_name(host: str) -> str | None:
    import idna

    name = host.removesuffix(".")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return f"'{host}' is not a valid host name."
    if len(ascii_name) > HOST_MAX:
        return f"A host name has at most {HOST_MAX} characters."
    if _NUMERIC_LABEL_RE.match(ascii_name.rsplit(".", 1)[-1].lower()):
        return (f"'{host}' is neither a host name nor an IPv4 address: write an IPv4 address "
                "as four numbers from 0 to 255, like 192.0.2.10.")
    if not all(_LABEL_RE.match(label) for label in ascii_name.split(".")):
        return f"'{host}' is not a valid host name."
    return None


def parse_port(text: str) -> tuple[int | None, str | None]:
    port = str(text).strip()
    if not port:
        return None, None
    if not port.isascii() or not port.isdigit():
        return None, f"A port is a number from 1 to 65535, not '{port}'."
    value = int(port)
    if not 1 <= value <= 65535:
        return None, f"A port is a number from 1 to 65535, not {value}."
    return value, None


def validate(draft: ProviderDraft, existing_names: Iterable[str] = ()) -> dict[str, str]:
    """Every problem of the draft, keyed by field name; empty when the draft is valid.

    `existing_names` are the other providers' names (uniqueness is case-insensitive)."""
    errors, _ = _evaluate(draft, existing_names)
    return errors


def to_settings(draft: ProviderDraft, existing_names: Iterable[str] = ()) -> ProviderSettings:
    """The normalised settings of a valid draft; raises ValidationError otherwise."""
    errors, settings = _evaluate(draft, existing_names)
    if errors:
        raise ValidationError(errors, inbound=parse_inbound_protocol(draft.inbound_protocol))
    return settings


def _evaluate(draft: ProviderDraft, existing_names: Iterable[str]):
    errors: dict[str, str] = {}

    def note(field_name: str, message: str | None) -> None:
        if message and field_name not in errors:
            errors[field_name] = message

    not_text = [name for name, value in vars(draft).items() if isinstance(value, str) and has_surrogates(value)]
    for field_name in not_text:
        note(field_name, "This is not valid text: it has bytes that are not UTF-8 (check the encoding of "
                         "the terminal, the file or the environment variable it came from).")
    if not_text:  # the other checks read the rest, the bad bytes as '?'
        draft = draft.updated(**{name: getattr(draft, name).encode("utf-8", "replace").decode() for name in not_text})

    note("name", check_name(draft.name, existing_names))
    provider_type = parse_type(draft.type)
    if provider_type is None:
        note("type", f"Pick one of smtp-imap, outlook or gmail, not '{draft.type}'.")
    account, account_error = normalise_address(draft.account)
    note("account", account_error)
    note("username", check_username(draft.username))
    note("from_name", check_from_name(draft.from_name))
    reply_to, reply_error = parse_reply_to(draft.reply_to)
    note("reply_to", reply_error)
    sign_in = provider_type.sign_in if provider_type is not None else None
    smtp_sign_in = parse_smtp_sign_in(draft.smtp_sign_in)
    if smtp_sign_in is None:
        note("smtp_sign_in", f"Pick login or none, not '{draft.smtp_sign_in}'.")
    elif smtp_sign_in is SmtpSignIn.NONE and sign_in is not None and not sign_in.uses_password:
        note("smtp_sign_in", f"{provider_type.label} sends with {sign_in.label}; only SMTP-IMAP providers "
                             "can send through a relay without login.")
    # Without an SMTP login, the password is for the inbound server only.
    password_needed = smtp_sign_in is not SmtpSignIn.NONE or draft.receive_emails
    if (sign_in is not None and sign_in.uses_password and password_needed
            and not draft.password and not draft.password_stored):
        note("password", "Enter the mailbox password.")
    if sign_in is not None and sign_in.uses_oauth and draft.password:
        note("password", f"{provider_type.label} signs in with {sign_in.label}; no password is kept.")
    if draft.password:
        note("password", check_password(draft.password))

    outbound, outbound_errors = _evaluate_server(draft, "smtp", Protocol.SMTP, provider_type, required=True)
    inbound_protocol = parse_inbound_protocol(draft.inbound_protocol)
    if inbound_protocol is None:
        choices = " or ".join(protocol.value for protocol in INBOUND_PROTOCOLS)
        note("inbound_protocol", f"Pick {choices}, not '{draft.inbound_protocol}'.")
    inbound, inbound_errors = _evaluate_server(
        draft, "inbound", inbound_protocol or Protocol.IMAP, provider_type, required=draft.receive_emails
    )
    for field_name, message in {**outbound_errors, **inbound_errors}.items():
        note(field_name, message)

    if errors:
        # Messages quote what was typed: its control characters are shown, never obeyed,
        # and a line break in a value cannot split the message.
        return {name: visible(message) for name, message in errors.items()}, None
    settings = ProviderSettings(
        name=draft.name.strip(),
        type=provider_type,
        sign_in=sign_in,
        account=account,
        username=draft.username.strip() or account,
        from_name=draft.from_name.strip(),
        active_reference=bool(draft.active_reference),
        reply_to=reply_to,
        outbound=outbound,
        inbound=InboundSettings(inbound_protocol, inbound) if draft.receive_emails else None,
        smtp_sign_in=smtp_sign_in,
    )
    return errors, settings


def _evaluate_server(draft, prefix: str, protocol: Protocol, provider_type: ProviderType | None, required: bool):
    """One server's host/port/security, read from the draft fields `{prefix}_host` etc.:
    (server settings, errors). Messages name the protocol ("Enter the POP3 server name")."""
    preset = _preset_server(provider_type, protocol)
    host_text = getattr(draft, f"{prefix}_host").strip()
    security_text = getattr(draft, f"{prefix}_security")
    port_text = getattr(draft, f"{prefix}_port")
    errors: dict[str, str] = {}

    security = parse_security(security_text)
    if security is None and str(security_text).strip():
        errors[f"{prefix}_security"] = f"Pick TLS (starttls), SSL or none, not '{security_text}'."
    if security is None:
        security = preset.security if preset is not None else protocol.spec.default_security

    if not host_text and preset is not None:
        host_text = preset.host
    if host_text or required:
        host_error = check_host(host_text, f"{protocol.label} server")
        if host_error:
            errors[f"{prefix}_host"] = host_error

    port, port_error = parse_port(port_text)
    if port_error:
        errors[f"{prefix}_port"] = port_error
    if port is None:
        port = protocol.spec.default_port(security)

    host = host_text.strip().removeprefix("[").removesuffix("]").lower()
    return ServerSettings(host, port, security), errors


def with_defaults_followed(before: ProviderDraft, after: ProviderDraft) -> ProviderDraft:
    """`after` (an edit of `before` made in one go, as on the command line) with the values
    that only followed a choice made to follow the new choice, as the form does as you pick:
    a port that was the standard one of its protocol and security, and a host that was the
    type's preset server, are emptied (meaning the new standard port, the new preset) when
    the protocol, security or type changed and they did not. What someone chose stays."""
    changes = {}
    for prefix, protocol_field in (("smtp", None), ("inbound", "inbound_protocol")):
        old = _server_choice(before, prefix, protocol_field)
        new = _server_choice(after, prefix, protocol_field)
        if old is None or new is None or old == new:
            continue
        (old_type, old_protocol, old_security), (new_type, new_protocol, _) = old, new
        port, host = f"{prefix}_port", f"{prefix}_host"
        if getattr(after, port).strip() == getattr(before, port).strip() == str(
            old_protocol.spec.default_port(old_security)
        ):
            changes[port] = ""
        old_preset, new_preset = _preset_server(old_type, old_protocol), _preset_server(new_type, new_protocol)
        same_host = getattr(after, host).strip() == getattr(before, host).strip()
        if same_host and old_preset and new_preset and getattr(after, host).strip() == old_preset.host:
            changes[host] = ""
    return after.updated(**changes) if changes else after


def _server_choice(draft: ProviderDraft, prefix: str, protocol_field: str | None):
    """What a server's defaults follow: (type, protocol, security); None while one is invalid."""
    provider_type = parse_type(draft.type)
    protocol = parse_inbound_protocol(getattr(draft, protocol_field)) if protocol_field else Protocol.SMTP
    security = parse_security(getattr(draft, f"{prefix}_security"))
    if provider_type is None or protocol is None or security is None:
        return None
    return provider_type, protocol, security


def _preset_server(provider_type: ProviderType | None, protocol: Protocol) -> ServerSettings | None:
    preset = PRESETS.get(provider_type)
    return preset.server(protocol) if preset is not None else None


# Warnings: allowed, but the user must know ------------------------------------------


def unencrypted_warning(protocol: Protocol | str, starttls_offered: bool = False, logs_in: bool = True) -> str:
    """What to say when a protocol's security is none (saving it is allowed); `logs_in`
    False: SMTP through a trusted relay, where no password is sent."""
    what = "the password and the mail travel" if logs_in else "the mail travels"
    text = f"{Protocol(protocol).label} security is none: {what} unencrypted."
    if starttls_offered:
        return f"{text} The server offers STARTTLS: pick TLS to encrypt them."
    return f"{text} Pick TLS or SSL if the server offers it."


def warnings(settings: ProviderSettings) -> list[str]:
    """One line per thing that is allowed but unsafe in these settings (nothing blocks
    saving): today, each protocol in use whose password would travel unencrypted."""
    return [unencrypted_warning(protocol, logs_in=settings.smtp_logs_in or protocol is not Protocol.SMTP)
            for protocol in settings.unencrypted_protocols]


def report_warnings(report) -> list[str]:
    """The same for what a check saw (a CheckReport): it knows whether the server offered
    STARTTLS, so the warning can say to use it."""
    return [unencrypted_warning(r.protocol, r.starttls_offered, logs_in=r.logged_in)
            for r in report.results if not r.encrypted]
