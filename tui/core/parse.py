"""Reading an inbound message: the fields the queue keeps, from its raw bytes.

`parse_message(raw)` never raises: a message that cannot be read is returned with
`parse_error` set and whatever fields could be read, so it is queued raw and flagged and
never blocks the ones after it. `too_large=True` says `raw` holds the headers only (the
message was over the size cap).

    parsed = parse_message(raw)
    parsed.message_id, parsed.subject, parsed.text, parsed.attachments
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.errors import MessageDefect, MultipartInvariantViolationDefect, NoBoundaryInMultipartDefect
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

# A Message-ID is at most a header line; more is not an identifier.
MAX_ID_LENGTH = 998
# References kept per message: threading needs the last few, a hostile header has thousands.
MAX_REFERENCES = 100
# Text kept per message (the raw bytes are kept whole).
MAX_TEXT = 1_000_000
# Attachments listed per message.
MAX_ATTACHMENTS = 200
MESSAGE_ID_PATTERN = re.compile(r"<[^<>\s]{1,996}>")
# Defects after which the structure read is not the sender's: the message is flagged.
FATAL_DEFECTS = (MultipartInvariantViolationDefect, NoBoundaryInMultipartDefect)


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int  # bytes, decoded


@dataclass
class ParsedMessage:
    raw: bytes
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    from_addr: str = ""
    to_addrs: list[str] = field(default_factory=list)
    cc_addrs: list[str] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None
    text: str = ""  # the text/plain part
    html_text: str = ""  # the text/html part, reduced to text
    attachments: list[Attachment] = field(default_factory=list)
    parse_error: str | None = None
    too_large: bool = False
    size: int = 0  # the message's size on the server (more than len(raw) when too large)

    @property
    def dedupe_key(self) -> str:
        """What makes two copies the same message: its Message-ID, else its bytes."""
        return self.message_id or "sha256:" + hashlib.sha256(self.raw).hexdigest()

    @property
    def thread_ids(self) -> list[str]:
        """The Message-IDs this message answers: In-Reply-To, then References newest first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        return ids + [ref for ref in reversed(self.references) if ref not in ids]

    @property
    def body_text(self) -> str:
        """The text to read: the plain part, else the HTML one reduced to text."""
        return self.text or self.html_text


def parse_message(raw: bytes, *, too_large: bool = False, size: int | None = None) -> ParsedMessage:
    parsed = ParsedMessage(raw=raw, too_large=too_large, size=len(raw) if size is None else size)
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=too_large)
    except Exception as exc:  # the email package should not raise; if it does, keep the bytes
        parsed.parse_error = f"unreadable message: {_describe(exc)}"
        return parsed
    problems: list[str] = []
    for reader in (_read_headers, _read_body) if not too_large else (_read_headers,):
        try:
            reader(message, parsed)
        except Exception as exc:  # one part of a broken message must not stop the rest
            problems.append(_describe(exc))
    if not message.keys():
        problems.append("no header fields")
    problems += [_describe(defect) for defect in _defects(message) if isinstance(defect, FATAL_DEFECTS)]
    if problems:
        parsed.parse_error = "; ".join(dict.fromkeys(problems))[:1000]
    return parsed


def _read_headers(message: EmailMessage, parsed: ParsedMessage) -> None:
    parsed.message_id = _first_id(_header(message, "Message-ID"))
    parsed.in_reply_to = _first_id(_header(message, "In-Reply-To"))
    parsed.references = MESSAGE_ID_PATTERN.findall(_header(message, "References"))[-MAX_REFERENCES:]
    senders = _addresses(message, "From")
    parsed.from_addr = senders[0] if senders else ""
    parsed.to_addrs = _addresses(message, "To")
    parsed.cc_addrs = _addresses(message, "Cc")
    parsed.subject = " ".join(_header(message, "Subject").split())
    parsed.date = _date(_header(message, "Date"))


def _read_body(message: EmailMessage, parsed: ParsedMessage) -> None:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    if plain is not None:
        parsed.text = _content(plain)[:MAX_TEXT]
    if html is not None:
        parsed.html_text = html_to_text(_content(html))[:MAX_TEXT]
    if not message.is_multipart() and plain is None and html is None and message.get_content_maintype() == "text":
        parsed.text = _content(message)[:MAX_TEXT]
    for part in message.walk():
        if len(parsed.attachments) >= MAX_ATTACHMENTS:
            break
        if part.is_multipart() or part in (plain, html):
            continue
        name = part.get_filename()
        if name is None and part.get_content_disposition() != "attachment":
            continue
        payload = part.get_payload(decode=True) or b""
        parsed.attachments.append(Attachment(name=name or "(unnamed)", size=len(payload)))


def _header(message: EmailMessage, name: str) -> str:
    """A header's value as text; a header the parser cannot read is taken as written."""
    try:
        value = message.get(name)
    except Exception:
        raw = message.get_all(name, failobj=[None])
        value = raw[0] if raw else None
    return "" if value is None else str(value)


def _addresses(message: EmailMessage, name: str) -> list[str]:
    values = message.get_all(name) or []
    found = []
    for display, address in getaddresses([str(value) for value in values]):
        if address or display:
            found.append(f"{display} <{address}>" if display else address)
    return found


def _first_id(value: str) -> str | None:
    match = MESSAGE_ID_PATTERN.search(value)
    if match:
        return match.group(0)
    value = value.strip()
    return value[:MAX_ID_LENGTH] if value and " " not in value else None


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):  # an unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace")
    content = content if isinstance(content, str) else content.decode("utf-8", "replace")
    return content.replace("\r\n", "\n")


def _defects(message: EmailMessage) -> list[MessageDefect]:
    return [defect for part in message.walk() for defect in part.defects]


def _describe(problem: BaseException) -> str:
    text = " ".join(str(problem).split()) or type(problem).__name__
    return f"{type(problem).__name__}: {text}"[:300]


class _TextOfHtml(HTMLParser):
    """HTML to readable text: blocks on lines of their own, no script or style."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr"}
    HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.pieces.append("\n")
        if tag == "li":
            self.pieces.append("- ")

    def handle_endtag(self, tag) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data) -> None:
        if not self.hidden:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    reader = _TextOfHtml()
    try:
        reader.feed(html)
        reader.close()
    except Exception:  # HTMLParser is lenient; anything left is dropped, not raised
        pass
    lines = (" ".join(line.split()) for line in "".join(reader.pieces).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
