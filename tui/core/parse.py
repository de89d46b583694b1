"""Reading an inbound message: the fields the queue keeps, from its raw bytes.

`parse_message(raw)` never raises: a message that cannot be read is returned with
`parse_error` set and whatever fields could be read, so it is queued raw and flagged and
never blocks the ones after it. `too_large=True` says `raw` holds the headers only (the
message was over the size cap).

    parsed = parse_message(raw)
    parsed.message_id, parsed.subject, parsed.text, parsed.attachments
"""

from __future__ import annotations

import binascii
import hashlib
import quopri
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.errors import HeaderParseError, MessageDefect, MultipartInvariantViolationDefect, NoBoundaryInMultipartDefect
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
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
        if _read_simple(raw, parsed, headers_only=too_large):
            return parsed
    except Exception:  # the quick reading gave up: the email package reads it from scratch
        parsed = ParsedMessage(raw=raw, too_large=too_large, size=parsed.size)
    try:
        # compat32: the modern policy parses every header into objects, about 20x slower,
        # which a worker taking thousands of messages a second cannot afford.
        message = BytesParser(policy=compat32).parsebytes(raw, headersonly=too_large)
    except Exception as exc:  # the email package should not raise; if it does, keep the bytes
        parsed.parse_error = f"unreadable message: {_describe(exc)}"
        return parsed
    problems: list[str] = []
    headers = Headers(lambda name: _header(message, name), lambda name: [str(v) for v in message.get_all(name) or []])
    try:
        _read_headers(headers, parsed)
    except Exception as exc:  # one part of a broken message must not stop the rest
        problems.append(_describe(exc))
    if not too_large:
        try:
            _read_body(message, parsed)
        except Exception as exc:
            problems.append(_describe(exc))
    if not message.keys():
        problems.append("no header fields")
    problems += [_describe(defect) for defect in _defects(message) if isinstance(defect, FATAL_DEFECTS)]
    if problems:
        parsed.parse_error = "; ".join(dict.fromkeys(problems))[:1000]
    return parsed


@dataclass(frozen=True)
class Headers:
    """A message's header fields, however they were read: the first value of a field ("" when
    absent), and all of them."""

    first: Callable[[str], str]
    all: Callable[[str], list[str]]


def _read_headers(headers: Headers, parsed: ParsedMessage) -> None:
    # Names in lower case: the quick reading keeps them so, and the email package's
    # Message looks names up in any case.
    parsed.message_id = _first_id(headers.first("message-id"))
    parsed.in_reply_to = _first_id(headers.first("in-reply-to"))
    parsed.references = MESSAGE_ID_PATTERN.findall(headers.first("references"))[-MAX_REFERENCES:]
    senders = _addresses(headers.all("from"))
    parsed.from_addr = senders[0] if senders else ""
    parsed.to_addrs = _addresses(headers.all("to"))
    parsed.cc_addrs = _addresses(headers.all("cc"))
    parsed.subject = " ".join(_decoded(headers.first("subject")).split())
    parsed.date = _date(headers.first("date"))


# The quick reading of a plain single-part message (most mail a contact center receives):
# the header block split by regular expressions, the body decoded directly. Anything else
# (multipart, an attachment, a line that is not a header field) goes to the email package.
# One header field, its folded lines included, from where the last one ended.
FIELD_AT = re.compile(r"([\x21-\x39\x3b-\x7e]+)[ \t]*:[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)(?:\n|\Z)")
FOLD = re.compile(r"\r?\n(?=[ \t])")
CHARSET = re.compile(r"""charset\s*=\s*"?([^";\s]+)""", re.IGNORECASE)
# The fields the quick reading keeps (Received, DKIM and the like are only checked for form).
WANTED_FIELDS = frozenset({"message-id", "in-reply-to", "references", "from", "to", "cc", "subject", "date",
                           "content-type", "content-transfer-encoding", "content-disposition"})


CR = ord("\r")


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    """The header block and the body, split at the first empty line (CRLF or bare LF): two
    byte searches over the header block, a tenth of the cost of one regular expression's scan."""
    crlf = raw.find(b"\n\r\n")
    bare = raw.find(b"\n\n", 0, crlf + 1 if crlf >= 0 else len(raw))  # only an earlier one counts
    at = bare if bare >= 0 else crlf  # the line feed ending the last header line
    if at < 0:
        return raw, b""
    head_end = at - 1 if at and raw[at - 1] == CR else at
    return raw[:head_end], raw[at + (2 if at == bare else 3) :]


def _read_simple(raw: bytes, parsed: ParsedMessage, headers_only: bool) -> bool:
    """Read `raw` quickly if it is a plain single-part message; False when it is not."""
    head, body = _split_head(raw)
    text = head.decode("utf-8", "replace")
    fields: dict[str, list[str]] = {}
    position, length = 0, len(text)
    while position < length:
        match = FIELD_AT.match(text, position)
        if match is None:  # a line that is not a header field: the email package judges it
            return False
        position = match.end()
        name, value = match.groups()
        name = name.lower()
        if name in WANTED_FIELDS:
            if "\n" in value:
                value = FOLD.sub("", value)
            if name in fields:
                fields[name].append(value.strip())
            else:
                fields[name] = [value.strip()]
    if position == 0:
        return False
    headers = Headers(lambda name: fields[name][0] if name in fields else "", lambda name: fields.get(name, []))
    content_type = headers.first("content-type")
    kind = (content_type.split(";")[0].strip().lower() or "text/plain")
    if kind not in ("text/plain", "text/html") or "name" in content_type.lower() or headers.first("content-disposition"):
        return False
    _read_headers(headers, parsed)
    if headers_only:
        return True
    encoding = headers.first("content-transfer-encoding").lower()
    if encoding == "base64":
        body = binascii.a2b_base64(body)
    elif encoding == "quoted-printable":
        body = quopri.decodestring(body)
    elif encoding not in ("", "7bit", "8bit", "binary"):
        return False
    charset = CHARSET.search(content_type)
    try:
        text = body.decode(charset.group(1) if charset else "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", "replace")
    text = text.replace("\r\n", "\n")[:MAX_TEXT]
    if kind == "text/plain":
        parsed.text = text
    else:
        parsed.html_text = html_to_text(text)
    return True


def _read_body(message: Message, parsed: ParsedMessage) -> None:
    plain = html = None
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        # get_filename() parses the headers again: only asked when a name can be there.
        named = "Content-Disposition" in part or "name" in (part.get("Content-Type") or "")
        name = part.get_filename() if named else None
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        if name is None and disposition != "attachment":
            if content_type == "text/plain" and plain is None:
                plain = part
            elif content_type == "text/html" and html is None:
                html = part
            continue
        if len(parsed.attachments) < MAX_ATTACHMENTS:
            payload = part.get_payload(decode=True) or b""
            parsed.attachments.append(Attachment(name=_decoded(name) if name else "(unnamed)", size=len(payload)))
    if plain is not None:
        parsed.text = _content(plain)[:MAX_TEXT]
    if html is not None:
        parsed.html_text = html_to_text(_content(html))[:MAX_TEXT]


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return "" if value is None else str(value)


def _decoded(value: str) -> str:
    """A header's text with its encoded words (=?utf-8?q?...?=) decoded."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, HeaderParseError):  # an unknown charset, a broken word
        return value


def _addresses(values: list[str]) -> list[str]:
    pairs = _simple_addresses(values)
    found = []
    for display, address in pairs if pairs is not None else getaddresses(values):
        display = " ".join(_decoded(display).split())
        if address or display:
            found.append(f"{display} <{address}>" if display else address)
    return found


ADDRESS = r"[^\s<>,;:()\"\\\[\]@]+@[^\s<>,;:()\"\\\[\]@]+"
SIMPLE_ADDRESS = re.compile(rf"\s*(?:([^<>,;:()\"\\\[\]@]*?)\s*<({ADDRESS})>|({ADDRESS}))\s*")


def _simple_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """`Name <a@b>, c@d` without quotes, comments or groups, read by one regex (getaddresses
    costs most of the parse); None for anything else, which getaddresses reads."""
    pairs = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue  # "a@b, " : nothing after the comma
            match = SIMPLE_ADDRESS.fullmatch(item)
            if match is None:
                return None
            display, routed, bare = match.groups()
            pairs.append((display or "", routed or bare))
    return pairs


def _first_id(value: str) -> str | None:
    match = MESSAGE_ID_PATTERN.search(value)
    if match:
        return match.group(0)
    value = value.strip()
    return value[:MAX_ID_LENGTH] if value and " " not in value else None


MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
# "Fri, 27 Nov 2026 10:00:00 +0000": most Date fields, read without the email package.
PLAIN_DATE = re.compile(r"(?:[A-Za-z]{3}, *)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")


def _date(value: str) -> datetime | None:
    if not value:
        return None
    plain = PLAIN_DATE.fullmatch(value)
    if plain is not None and plain.group(2).lower() in MONTHS:
        day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = plain.groups()
        offset = int(zone_hours) * 60 + int(zone_minutes)
        try:
            if offset >= 24 * 60:
                raise ValueError("a zone offset of a day or more")
            # Read as UTC, then moved by the zone's offset: the same moment as building it in
            # its zone and converting, for half the cost.
            moment = datetime(int(year), MONTHS[month.lower()], int(day), int(hour), int(minute), int(second),
                              tzinfo=timezone.utc)
            if offset:
                moment += timedelta(minutes=-offset if sign == "+" else offset)
            return moment
        except (ValueError, OverflowError):  # 31 Feb, second 61...: the email package's reading decides
            pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _content(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        text = payload.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _defects(message: Message) -> list[MessageDefect]:
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
