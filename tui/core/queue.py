"""The inbound queue: messages received (and sent) per provider, in conversations, and where
the receive worker is in each mailbox.

Nothing lost, nothing twice: a batch of received messages and the mailbox position after
them (IMAP UIDVALIDITY and the highest UID done, or the POP3 UIDLs) are committed in ONE
transaction (`commit_batch`), so a kill leaves the state before the batch or after it. On
top of that a message's `dedupe_key` (its Message-ID, else a hash of its bytes) is unique
per provider and direction: a copy fetched again (a UIDVALIDITY change, a reordered POP3
maildrop) is skipped, not queued twice.

Threading ("Active reference"): with it on, a message whose In-Reply-To or References
names a Message-ID this provider sent or received joins that message's conversation;
otherwise (or with it off) it starts a new one.

Sending (wired by the sender): after a message was sent through a provider, call
    queue.record_sent(provider_id, raw_bytes, active_reference=settings.active_reference)
which files it (direction "out") in the conversation it answers, or a new one, so that the
reply to it threads there too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlmodel import Field, SQLModel

from tui.core.parse import Attachment, ParsedMessage, parse_message
from tui.core.report import as_utc, utcnow

INBOUND, OUTBOUND = "in", "out"
# SQLite allows 32,766 parameters per statement: look keys up in slices well below that.
LOOKUP_SLICE = 500
QUEUE_CHECKPOINT_PAGES = 16_000  # pages of 4 KiB


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversation"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int
    subject: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    last_message_at: datetime = Field(default_factory=utcnow)


class MessageRow(SQLModel, table=True):
    __tablename__ = "mail_message"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int
    conversation_id: int
    direction: str  # INBOUND or OUTBOUND
    dedupe_key: str
    source: str = ""  # "imap UIDVALIDITY/UID", "pop3 UIDL" or "sent"
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str = "[]"  # JSON list
    from_addr: str = ""
    to_addrs: str = "[]"
    cc_addrs: str = "[]"
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    html_text: str = ""
    attachments: str = "[]"  # JSON list of {"name", "size"}
    size: int = 0
    raw: bytes
    parse_error: str | None = None
    too_large: bool = False
    received_at: datetime = Field(default_factory=utcnow)


class SyncRow(SQLModel, table=True):
    __tablename__ = "mail_sync"

    provider_id: int = Field(primary_key=True)
    mailbox_key: str  # which mailbox the position is in (protocol, server, user)
    uidvalidity: int | None = None
    last_uid: int = 0
    since: datetime  # mail older than this was there before the first sync: not taken
    failures: int = 0  # consecutive failed passes
    red_by_worker: bool = False  # the worker made the provider red: it may make it green again
    updated_at: datetime = Field(default_factory=utcnow)


class Pop3SeenRow(SQLModel, table=True):
    __tablename__ = "pop3_seen"

    provider_id: int = Field(primary_key=True)
    uidl: str = Field(primary_key=True)


@dataclass(frozen=True)
class Incoming:
    """One fetched message and where it came from ("imap 7/42", "pop3 <uidl>")."""

    parsed: ParsedMessage
    source: str


@dataclass(frozen=True)
class SyncState:
    provider_id: int
    mailbox_key: str
    uidvalidity: int | None
    last_uid: int
    since: datetime
    failures: int
    red_by_worker: bool


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    provider_id: int
    conversation_id: int
    direction: str
    message_id: str | None
    in_reply_to: str | None
    from_addr: str
    to_addrs: list[str]
    cc_addrs: list[str]
    subject: str
    date: datetime | None
    text: str  # plain text, else the HTML reduced to text
    attachments: list[Attachment]
    size: int
    parse_error: str | None
    too_large: bool
    received_at: datetime


@dataclass(frozen=True)
class Conversation:
    id: int
    provider_id: int
    subject: str
    started_at: datetime
    last_message_at: datetime
    messages: int


class QueueStore:
    """The queue tables in the providers' database (`store` is a tui.core.store.Store)."""

    def __init__(self, store):
        self.engine = store.engine

    @contextmanager
    def _writing(self) -> Iterator:
        """One write transaction that holds SQLite's write lock from its first statement
        (BEGIN IMMEDIATE), so reads inside it see what nobody else can change meanwhile."""
        with self.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # WAL with synchronous NORMAL: a commit survives a killed process (what the
                # worker must survive); only a power cut may undo the last commits, and then
                # the queued rows and the mailbox position go back together: fetched again.
                connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
                # Batches of thousands of messages: checkpoint (and fsync) the WAL into the
                # database every ~64 MB of it rather than every 4 MB.
                connection.exec_driver_sql(f"PRAGMA wal_autocheckpoint={QUEUE_CHECKPOINT_PAGES}")
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                if sqlite:  # the pooled connection goes back as the store set it up
                    connection.exec_driver_sql("PRAGMA synchronous=FULL")
                    connection.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")

    # Sync state ----------------------------------------------------------------------

    def sync_state(self, provider_id: int) -> SyncState | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(SyncRow).where(SyncRow.provider_id == provider_id)).first()
            return _to_state(row) if row else None

    def start_sync(self, provider_id: int, mailbox_key: str, since: datetime) -> SyncState:
        """A first sync of this mailbox (or of a provider that now reads another mailbox):
        position and seen UIDLs forgotten, mail from `since` on taken. Failures are kept."""
        with self._writing() as connection:
            old = connection.execute(select(SyncRow).where(SyncRow.provider_id == provider_id)).first()
            connection.execute(delete(Pop3SeenRow).where(Pop3SeenRow.provider_id == provider_id))
            connection.execute(delete(SyncRow).where(SyncRow.provider_id == provider_id))
            connection.execute(insert(SyncRow).values(
                provider_id=provider_id, mailbox_key=mailbox_key, uidvalidity=None, last_uid=0,
                since=_utc(since), failures=old.failures if old else 0,
                red_by_worker=old.red_by_worker if old else False, updated_at=_utc(utcnow()),
            ))
        return self.sync_state(provider_id)

    def seen_uidls(self, provider_id: int) -> set[str]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(Pop3SeenRow.uidl).where(Pop3SeenRow.provider_id == provider_id))
            return {row[0] for row in rows}

    def note_failures(self, provider_id: int, failures: int, red_by_worker: bool) -> None:
        """The worker's count of failed passes in a row, and whether it made the provider
        red. A provider that failed before its first sync gets a state with no mailbox yet."""
        with self._writing() as connection:
            changed = connection.execute(update(SyncRow).where(SyncRow.provider_id == provider_id).values(
                failures=failures, red_by_worker=red_by_worker, updated_at=_utc(utcnow()))).rowcount
            if not changed:
                connection.execute(insert(SyncRow).values(
                    provider_id=provider_id, mailbox_key="", since=_utc(utcnow()), failures=failures,
                    red_by_worker=red_by_worker, updated_at=_utc(utcnow())))

    # Queueing ------------------------------------------------------------------------

    def commit_batch(
        self,
        provider_id: int,
        batch: list[Incoming],
        *,
        active_reference: bool,
        uidvalidity: int | None = None,
        last_uid: int | None = None,
        uidls: list[str] = (),
    ) -> int:
        """Queue `batch` and move the mailbox position (`uidvalidity` and `last_uid` for
        IMAP, `uidls` done for POP3) in one transaction. Messages already queued (same
        dedupe key) are skipped. Returns how many were queued."""
        with self._writing() as connection:
            queued = _queue(connection, provider_id, [(item.parsed, item.source) for item in batch],
                            INBOUND, active_reference)
            position = {"updated_at": _utc(utcnow())}
            if uidvalidity is not None:
                position["uidvalidity"] = uidvalidity
            if last_uid is not None:
                position["last_uid"] = last_uid
            connection.execute(update(SyncRow).where(SyncRow.provider_id == provider_id).values(**position))
            if uidls:
                connection.execute(
                    text("INSERT OR IGNORE INTO pop3_seen (provider_id, uidl) VALUES (:provider_id, :uidl)"),
                    [{"provider_id": provider_id, "uidl": uidl} for uidl in uidls],
                )
        return queued

    def record_sent(self, provider_id: int, raw: bytes, *, active_reference: bool = True) -> QueuedMessage | None:
        """File a message sent through the provider (its bytes as sent, with our Message-ID)
        in the conversation it answers (Active reference on), else in a new one; replies to
        it then thread there. None when a message with that Message-ID is already recorded."""
        parsed = parse_message(raw)
        with self._writing() as connection:
            queued = _queue(connection, provider_id, [(parsed, "sent")], OUTBOUND, active_reference)
        if not queued:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(MessageRow).where(
                MessageRow.provider_id == provider_id, MessageRow.direction == OUTBOUND,
                MessageRow.dedupe_key == parsed.dedupe_key)).first()
            return _to_message(row)

    # Reading -------------------------------------------------------------------------

    def thread_of(self, provider_id: int, message_id: str) -> tuple[str, list[str]] | None:
        """What a reply to the provider's queued message `message_id` (received or sent;
        angle brackets optional) names: (its Message-ID, its References), or None when no
        queued message of the provider has that Message-ID."""
        wanted = message_id.strip()
        if wanted and not wanted.startswith("<"):
            wanted = f"<{wanted}>"
        # The dedupe key is the Message-ID when there is one: its unique index answers this.
        query = (select(MessageRow.message_id, MessageRow.references)
                 .where(MessageRow.provider_id == provider_id, MessageRow.direction.in_((INBOUND, OUTBOUND)),
                        MessageRow.dedupe_key == wanted)
                 .order_by(MessageRow.id).limit(1))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return (row.message_id, json.loads(row.references)) if row else None

    def messages(self, provider_id: int, direction: str | None = INBOUND) -> list[QueuedMessage]:
        """The provider's messages (received ones by default), oldest first."""
        query = select(*_READ_COLUMNS).where(MessageRow.provider_id == provider_id)
        if direction:
            query = query.where(MessageRow.direction == direction)
        with self.engine.connect() as connection:
            return [_to_message(row) for row in connection.execute(query.order_by(MessageRow.id))]

    def conversations(self, provider_id: int) -> list[Conversation]:
        """The provider's conversations, the one with the newest message first."""
        count = (select(func.count(MessageRow.id)).where(MessageRow.conversation_id == ConversationRow.id)
                 .scalar_subquery())
        query = (select(ConversationRow, count.label("messages")).where(ConversationRow.provider_id == provider_id)
                 .order_by(ConversationRow.last_message_at.desc(), ConversationRow.id.desc()))
        with self.engine.connect() as connection:
            return [
                Conversation(row.id, row.provider_id, row.subject, as_utc(row.started_at),
                             as_utc(row.last_message_at), row.messages)
                for row in connection.execute(query)
            ]

    def conversation_messages(self, conversation_id: int) -> list[QueuedMessage]:
        query = select(*_READ_COLUMNS).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id)
        with self.engine.connect() as connection:
            return [_to_message(row) for row in connection.execute(query)]

    def raw(self, message_id: int) -> bytes | None:
        """A queued message's bytes as received (headers only when it was too large)."""
        with self.engine.connect() as connection:
            return connection.execute(select(MessageRow.raw).where(MessageRow.id == message_id)).scalar()

    def queued_counts(self) -> dict[int, int]:
        """{provider id: messages received}, for the provider list."""
        query = (select(MessageRow.provider_id, func.count(MessageRow.id))
                 .where(MessageRow.direction == INBOUND).group_by(MessageRow.provider_id))
        with self.engine.connect() as connection:
            return {provider_id: count for provider_id, count in connection.execute(query)}


# Everything a reader shows: the raw bytes (up to the size cap each) only through raw().
_READ_COLUMNS = [column for column in MessageRow.__table__.c if column.name != "raw"]


def forget_provider(connection, provider_id: int) -> None:
    """Remove a deleted provider's queue and sync state (in the caller's transaction)."""
    for table in (MessageRow, ConversationRow, SyncRow, Pop3SeenRow):
        connection.execute(delete(table).where(table.provider_id == provider_id))


# Queueing, inside a write transaction ---------------------------------------------------


def _queue(connection, provider_id: int, items: list[tuple[ParsedMessage, str]], direction: str,
           active_reference: bool) -> int:
    """Insert the messages not queued yet, each in its conversation; returns how many."""
    # Each key once (without a Message-ID it is a hash of the bytes).
    keyed = [(parsed.dedupe_key, parsed, source) for parsed, source in items]
    known = _existing_keys(connection, provider_id, direction, {key for key, _, _ in keyed})
    fresh: list[tuple[str, ParsedMessage, str]] = []
    for key, parsed, source in keyed:
        if key not in known:
            known.add(key)
            fresh.append((key, parsed, source))
    if not fresh:
        return 0
    threads = _known_threads(connection, provider_id, [parsed for _, parsed, _ in fresh]) if active_reference else {}
    next_conversation = (connection.execute(select(func.max(ConversationRow.id))).scalar() or 0) + 1
    moment = _utc(utcnow())
    now = _driver_value(moment)  # as the rows store it
    new_conversations, joined, rows = [], set(), []
    for key, parsed, source in fresh:
        conversation = None
        if active_reference and (parsed.in_reply_to or parsed.references):  # most mail answers nothing
            conversation = next((threads[ref] for ref in parsed.thread_ids if ref in threads), None)
        if conversation is None:
            conversation = next_conversation
            next_conversation += 1
            new_conversations.append((conversation, provider_id, parsed.subject, now, now))
        else:
            joined.add(conversation)
        if parsed.message_id and active_reference:
            threads.setdefault(parsed.message_id, conversation)  # a reply later in this batch joins it
        rows.append(_message_columns(parsed, key, provider_id, conversation, direction, source, now))
    if new_conversations:
        _insert_many(connection, ConversationRow, CONVERSATION_COLUMNS, new_conversations)
    if joined:
        connection.execute(
            update(ConversationRow).where(ConversationRow.id == bindparam("conversation"))
            .values(last_message_at=moment),
            [{"conversation": conversation} for conversation in joined],
        )
    _insert_many(connection, MessageRow, MESSAGE_COLUMNS, rows)
    return len(rows)


def _insert_many(connection, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """One executemany of rows already in the driver's terms (tuples in `columns`' order,
    times as `_driver_value` writes them): SQLAlchemy's per-value processing costs as much
    as SQLite's work for thousands of rows."""
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table.__tablename__} ({names}) VALUES ({marks})", rows)


DRIVER_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _driver_value(value):
    if isinstance(value, datetime):
        # What SQLAlchemy stores (a UTC time without its zone): isoformat(" ", "microseconds")
        # of the naive time, written at half its cost (once per message queued).
        return DRIVER_TIME % (value.year, value.month, value.day, value.hour, value.minute, value.second,
                              value.microsecond)
    if isinstance(value, bool):
        return int(value)
    return value


def _existing_keys(connection, provider_id: int, direction: str, keys: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _slices(sorted(keys)):
        found.update(key for (key,) in connection.exec_driver_sql(
            "SELECT dedupe_key FROM mail_message WHERE provider_id = ? AND direction = ?"
            f" AND dedupe_key IN ({_marks(chunk)})", (provider_id, direction, *chunk)))
    return found


def _known_threads(connection, provider_id: int, messages: list[ParsedMessage]) -> dict[str, int]:
    """{Message-ID: conversation} for every Message-ID these messages answer that the
    provider sent or received."""
    wanted = sorted({ref for parsed in messages if parsed.in_reply_to or parsed.references for ref in parsed.thread_ids})
    threads: dict[str, int] = {}
    for chunk in _slices(wanted):
        # The dedupe key is the Message-ID when there is one: its unique index answers this.
        rows = connection.exec_driver_sql(
            "SELECT dedupe_key, conversation_id FROM mail_message WHERE provider_id = ? AND direction IN (?, ?)"
            f" AND dedupe_key IN ({_marks(chunk)}) ORDER BY id", (provider_id, INBOUND, OUTBOUND, *chunk))
        for message_id, conversation in rows:
            threads.setdefault(message_id, conversation)
    return threads


# The two look-ups above run once per batch of thousands: written for the driver, they skip
# SQLAlchemy's statement building, which cost as much as the look-up itself.
def _slices(values: list[str]) -> Iterator[list[str]]:
    return (values[start : start + LOOKUP_SLICE] for start in range(0, len(values), LOOKUP_SLICE))


def _marks(values: list) -> str:
    return ", ".join("?" * len(values))


CONVERSATION_COLUMNS = ("id", "provider_id", "subject", "started_at", "last_message_at")
MESSAGE_COLUMNS = ("provider_id", "conversation_id", "direction", "dedupe_key", "source", "message_id", "in_reply_to",
                   "references", "from_addr", "to_addrs", "cc_addrs", "subject", "date", "text", "html_text",
                   "attachments", "size", "raw", "parse_error", "too_large", "received_at")


def _message_columns(parsed: ParsedMessage, dedupe_key: str, provider_id: int, conversation: int, direction: str,
                     source: str, now: str) -> tuple:
    """A mail_message row in MESSAGE_COLUMNS' order, in the driver's terms (`now` already is)."""
    return (
        provider_id, conversation, direction, dedupe_key, source, parsed.message_id, parsed.in_reply_to,
        _json_list(parsed.references), parsed.from_addr, _json_list(parsed.to_addrs), _json_list(parsed.cc_addrs),
        parsed.subject, _driver_value(parsed.date) if parsed.date else None, parsed.text, parsed.html_text,
        json.dumps([{"name": a.name, "size": a.size} for a in parsed.attachments], ensure_ascii=False)
        if parsed.attachments else "[]",
        parsed.size, parsed.raw, parsed.parse_error, int(parsed.too_large), now,
    )


def _json_list(items: list[str]) -> str:
    """Strings as a JSON list, as json.dumps(items, ensure_ascii=False) writes it, with the
    json module's string encoder alone (json.dumps builds an encoder per call: 8x the cost)."""
    return "[" + ", ".join(map(encode_basestring, items)) + "]" if items else "[]"


def _to_message(row) -> QueuedMessage:
    return QueuedMessage(
        id=row.id,
        provider_id=row.provider_id,
        conversation_id=row.conversation_id,
        direction=row.direction,
        message_id=row.message_id,
        in_reply_to=row.in_reply_to,
        from_addr=row.from_addr,
        to_addrs=json.loads(row.to_addrs),
        cc_addrs=json.loads(row.cc_addrs),
        subject=row.subject,
        date=as_utc(row.date) if row.date else None,
        text=row.text or row.html_text,
        attachments=[Attachment(**item) for item in json.loads(row.attachments)],
        size=row.size,
        parse_error=row.parse_error,
        too_large=bool(row.too_large),
        received_at=as_utc(row.received_at),
    )


def _to_state(row) -> SyncState:
    return SyncState(row.provider_id, row.mailbox_key, row.uidvalidity, row.last_uid, as_utc(row.since),
                     row.failures, bool(row.red_by_worker))


def _utc(moment: datetime) -> datetime:
    """Times are stored in UTC (SQLModel wants them with their zone; SQLite drops it)."""
    return as_utc(moment)
