"""Building a message a provider sends: headers from the provider's settings, nothing a
caller passes able to add a header of its own. No network here (tui/core/send.py sends).

    message = compose(settings, to=["alice@example.com"], subject="Hello", body="Hi.\\n")
    message.message_id  # "<…@example.com>", generated for the account's domain
    message.data        # the bytes for DATA (CRLF line ends)

Header injection: a CR, LF or NUL in any header value (the From Name, the subject, an
address, a Message-ID) is refused with `UnsafeMessage` naming the field, before the
`email` package (which refuses them too) is asked; non-ASCII text is RFC 2047-encoded,
and addresses are validated as addresses, so none can carry a second header.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from tui.core.domain import ProviderSettings
from tui.core.hosts import ascii_host

# What no header value may contain: each would end the header line and start another.
HEADER_BREAKERS = {"\r": "CR", "\n": "LF", "\0": "NUL"}
MAX_SUBJECT = 998  # RFC 5322's line limit: a subject longer than a header line is a mistake
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_RECIPIENTS = 100
# "<left@right>": no blanks, no angle brackets inside (RFC 5322 msg-id, loosely).
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")

TEST_SUBJECT = "mailprov test message"


class UnsafeMessage(ValueError):
    """A field of a message to send is refused: `field` names it ("subject", "to", "cc",
    "from_name", "in_reply_to", "references", "body"), `str()` says why in one line."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready for DATA, and the envelope it goes with."""

    message_id: str  # "<id@account-domain>": what replies name in In-Reply-To
    sender: str  # MAIL FROM: the account (domain in IDNA)
    recipients: tuple[str, ...]  # RCPT TO: To and Cc, each once
    subject: str
    data: bytes  # the whole message, CRLF line ends (not yet dot-stuffed)
    smtputf8: bool  # an address has a non-ASCII local part: the server must offer SMTPUTF8


def new_message_id(account: str) -> str:
    """A fresh Message-ID on the account's domain: `<random hex@domain>` (random enough
    that two never meet; the domain names who made it)."""
    domain = ascii_host(account.rpartition("@")[2]) or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def is_message_id(text: str) -> bool:
    """Whether compose() takes `text` as it is in In-Reply-To or References."""
    return bool(_MESSAGE_ID.fullmatch(text)) and text.isascii()


def compose(
    settings: ProviderSettings,
    *,
    to: Sequence[str],
    subject: str,
    body: str,
    cc: Sequence[str] = (),
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    message_id: str | None = None,
    date: datetime | None = None,
) -> OutgoingMessage:
    """The message `settings`' provider sends: From "From Name <account>", Reply-To the
    provider's addresses, a new Message-ID (or `message_id`), Date (now, or `date`).

    In-Reply-To and References are written only when the provider's Active reference is
    on (threading is that switch's meaning); `references` keeps its order, and
    `in_reply_to` is added at its end when missing. Raises UnsafeMessage naming the field
    for a header value with CR, LF or NUL, an address that is not one, or a body too big."""
    recipients_to = _addresses("to", to, required=True)
    recipients_cc = _addresses("cc", cc)
    _refuse_breakers("subject", subject)
    if len(subject) > MAX_SUBJECT:
        raise UnsafeMessage("subject", f"at most {MAX_SUBJECT} characters (this has {len(subject)}).")
    _refuse_breakers("from_name", settings.from_name)
    if "\0" in body:
        raise UnsafeMessage("body", "a message body cannot contain NUL characters.")
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise UnsafeMessage("body", f"at most {MAX_BODY_BYTES // (1024 * 1024)} MiB.")
    message_id = _message_id("message_id", message_id) if message_id else new_message_id(settings.account)
    threading = _threading(in_reply_to, references) if settings.active_reference else ([], None)

    sender = _address("account", settings.account)
    every_address = [sender, *recipients_to, *recipients_cc, *(_address("reply_to", a) for a in settings.reply_to)]
    smtputf8 = not all(address.isascii() for address in every_address)
    message = EmailMessage(policy=policy.SMTPUTF8 if smtputf8 else policy.SMTP)
    message["From"] = _header_address(settings.from_name, sender)
    message["To"] = [_header_address("", a) for a in recipients_to]
    if recipients_cc:
        message["Cc"] = [_header_address("", a) for a in recipients_cc]
    if settings.reply_to:
        message["Reply-To"] = [_header_address("", _address("reply_to", a)) for a in settings.reply_to]
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(timezone.utc))
    message["Message-ID"] = message_id
    references_list, parent = threading
    if parent:
        message["In-Reply-To"] = parent
    if references_list:
        message["References"] = " ".join(references_list)
    # Quoted-printable keeps every line short and 7-bit: no server needs 8BITMIME for it.
    cte = "7bit" if body.isascii() and all(len(line) <= 998 for line in body.splitlines()) else "quoted-printable"
    message.set_content(body, cte=cte)
    recipients = tuple(dict.fromkeys([*recipients_to, *recipients_cc]))
    return OutgoingMessage(message_id, sender, recipients, subject, message.as_bytes(), smtputf8)


def compose_test_message(settings: ProviderSettings, to: str, *, date: datetime | None = None) -> OutgoingMessage:
    """The short message `mailprov send-test` and the form's "Send test message" send."""
    moment = date or datetime.now(timezone.utc)
    body = (
        f"This is a test message from mailprov, sent through the provider '{settings.name}'\n"
        f"({settings.account}, SMTP server {settings.outbound.host} port {settings.outbound.port})\n"
        f"at {moment.strftime('%Y-%m-%d %H:%M:%S UTC')}.\n\n"
        "Nothing needs to be done with it.\n"
    )
    return compose(settings, to=[to], subject=TEST_SUBJECT, body=body, date=moment)


# --- parts ---------------------------------------------------------------------------


def _refuse_breakers(field: str, value: str) -> None:
    found = [label for char, label in HEADER_BREAKERS.items() if char in value]
    if found:
        raise UnsafeMessage(field, f"a header cannot contain line breaks or NUL (this one has {' and '.join(found)}).")


def _address(field: str, text: str) -> str:
    """One address, validated (the same rule as the provider's fields), domain in IDNA."""
    from tui.core.rules import normalise_address

    _refuse_breakers(field, text)
    address, error = normalise_address(text)
    if error:
        raise UnsafeMessage(field, error)
    local, _, domain = address.rpartition("@")
    return f"{local}@{ascii_host(domain)}"


def _addresses(field: str, texts: Sequence[str], *, required: bool = False) -> list[str]:
    if isinstance(texts, str):  # one address given as a string, not a list of its letters
        texts = [texts]
    addresses = list(dict.fromkeys(_address(field, text) for text in texts if text.strip()))
    if required and not addresses:
        raise UnsafeMessage(field, "give at least one address.")
    if len(addresses) > MAX_RECIPIENTS:
        raise UnsafeMessage(field, f"at most {MAX_RECIPIENTS} addresses.")
    return addresses


def _header_address(display_name: str, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def _message_id(field: str, text: str) -> str:
    """A Message-ID as given, in angle brackets (added when missing), or UnsafeMessage."""
    _refuse_breakers(field, text)
    value = text.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    if not _MESSAGE_ID.fullmatch(value) or not value.isascii():
        raise UnsafeMessage(field, f"'{text.strip()}' is not a Message-ID (like <id@example.com>).")
    return value


def _threading(in_reply_to: str | None, references: Sequence[str]) -> tuple[list[str], str | None]:
    """(References, In-Reply-To): each a valid Message-ID; the parent ends References."""
    if isinstance(references, str):
        _refuse_breakers("references", references)
        references = references.split()
    chain = [_message_id("references", reference) for reference in references if reference.strip()]
    parent = _message_id("in_reply_to", in_reply_to) if in_reply_to and in_reply_to.strip() else None
    if parent and parent not in chain:
        chain.append(parent)
    return list(dict.fromkeys(chain)), parent
