"""The provider list's rows, read light: a few columns per provider, no ORM object, no report.

The list shows one status word per provider; reading full records for it (an ORM object
each, every saved check report parsed) took 6.6 s and 353 MB with 100,000 providers. These
rows carry what the list shows and filters on; the report is read when one provider is
opened (`Store.get`). Plain DB-API (sqlite3): nothing here imports SQLAlchemy."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from tui.core.domain import Protocol, ProviderType, Security, SmtpSignIn, Status
from tui.core.records import failure_from_columns, moment
from tui.core.report import Failure

_COLUMNS = (
    "name, type, account, inbound_protocol, smtp_security, inbound_security, status, "
    "last_checked_at, last_ok_at, error_kind, error_message, error_remedy, error_fields, smtp_sign_in, "
    "token_key, oauth_account, token_expires_at, refresh_token_at, shared_mailbox"
)
# Each provider's received messages, counted in ONE aggregate beside the rows (not a query
# per row): the queue's unique index (provider_id, direction, dedupe_key) covers it, so
# SQLite walks that index in provider order and never reads a message row.
_QUEUED = (
    "SELECT provider_id, count(*) AS queued FROM mail_message "
    "WHERE direction = 'in' GROUP BY provider_id"
)
ROWS_SQL = (
    f"SELECT {', '.join('provider.' + column for column in _COLUMNS.split(', '))}, coalesce(counts.queued, 0) "
    f"FROM provider LEFT JOIN ({_QUEUED}) AS counts ON counts.provider_id = provider.id "
    "ORDER BY provider.name_key"
)
# The same rows with the provider's id in place of its count: the counts come from a
# QueuedCounts kept between reloads.
ROWS_BY_ID_SQL = (
    f"SELECT {', '.join('provider.' + column for column in _COLUMNS.split(', '))}, provider.id "
    "FROM provider ORDER BY provider.name_key"
)
_NONE = Security.NONE.value
T = TypeVar("T")
# Enum members by value: a dict lookup per row is several times cheaper than an Enum call.
_TYPES = {member.value: member for member in ProviderType}
_STATUSES = {member.value: member for member in Status}
_PROTOCOLS = {member.value: member for member in Protocol}


class ListRow(NamedTuple):  # a tuple: ~3x cheaper to build than a frozen dataclass
    name: str
    type: ProviderType
    account: str
    inbound: Protocol | None  # None: Receive emails is off
    status: Status
    last_checked_at: datetime | None
    last_ok_at: datetime | None
    failure: Failure | None
    encrypted: bool  # False when a server in use has security none
    smtp_login: bool = True  # False: sends through a trusted relay without SMTP login
    signed_in: bool = False  # Outlook and Gmail: a token is stored (the sign-in state below)
    oauth_account: str | None = None
    token_expires_at: datetime | None = None
    refresh_token_at: datetime | None = None
    shared_mailbox: bool = False
    queued: int = 0  # messages received into its queue (tui.core.queue)


def read_rows(connection: Any, convert: Callable[[ListRow], T] | None = None, limit: int | None = None,
              queued: QueuedCounts | None = None) -> list[T]:
    """Every provider, by name (as `Store.list`), with its queued count, from a DB-API connection to the store;
    each row passed through `convert` as it is read (so that the rows and what they become
    are never all in memory together: 100,000 of them). `limit`: the first ones only.
    `queued` (SQLite only): the counts kept from the previous read, brought up to date
    rather than counted again."""
    if queued is not None:
        return _read_rows_with(queued, connection, convert, limit)
    cursor = connection.cursor()
    try:
        cursor.execute(ROWS_SQL + _limit(limit))
        return _converted(cursor, convert)
    finally:
        cursor.close()


def _read_rows_with(queued: QueuedCounts, connection: Any, convert: Callable[[ListRow], T] | None,
                    limit: int | None) -> list[T]:
    cursor = connection.cursor()
    try:
        cursor.execute("BEGIN")  # the counts and the rows from one snapshot of the file
        counts = queued.read(cursor)
        cursor.execute(ROWS_BY_ID_SQL + _limit(limit))
        return _converted(cursor, convert, counts)
    finally:
        cursor.close()
        connection.rollback()  # ends the read transaction


def _converted(cursor: Any, convert: Callable[[ListRow], T] | None, counts: dict[int, int] | None = None) -> list:
    """The cursor's rows as ListRows, each passed through `convert` as it is read."""
    if convert is None:
        return [_row(values, counts) for values in _batches(cursor)]
    return [convert(_row(values, counts)) for values in _batches(cursor)]


def _limit(limit: int | None) -> str:
    return "" if limit is None else f" LIMIT {int(limit)}"


def _batches(cursor: Any, size: int = 2000) -> Iterator[tuple]:
    while batch := cursor.fetchmany(size):
        yield from batch


def _row(values: tuple, counts: dict[int, int] | None = None) -> ListRow:
    """A row of ROWS_SQL; with `counts`, of ROWS_BY_ID_SQL (its last value is the id)."""
    (name, type_, account, inbound, smtp_security, inbound_security, status,
     checked, ok, error_kind, error_message, error_remedy, error_fields, smtp_sign_in,
     token_key, oauth_account, token_expires_at, refresh_token_at, shared_mailbox, queued) = values
    if counts is not None:
        queued = counts.get(queued, 0)
    return ListRow(
        name=name,
        type=_TYPES.get(type_) or ProviderType(type_),  # the call raises for an unknown value
        account=account,
        inbound=(_PROTOCOLS.get(inbound) or Protocol(inbound)) if inbound else None,
        status=_STATUSES.get(status) or Status(status),
        last_checked_at=moment(checked),
        last_ok_at=moment(ok),
        failure=failure_from_columns(error_kind, error_message, error_remedy, error_fields),
        encrypted=smtp_security != _NONE and inbound_security != _NONE,
        smtp_login=smtp_sign_in != SmtpSignIn.NONE.value,
        signed_in=token_key is not None,
        oauth_account=oauth_account,
        token_expires_at=moment(token_expires_at),
        refresh_token_at=moment(refresh_token_at),
        shared_mailbox=bool(shared_mailbox),
        queued=queued,
    )


# What tells whether the counts kept can be brought up to date (see QueuedCounts).
_ALL_MESSAGES = "SELECT count(*) FROM mail_message"  # SQLite counts an index's entries page by page
_LAST_MESSAGE = (
    "SELECT id, provider_id, direction, dedupe_key, received_at FROM mail_message ORDER BY id DESC LIMIT 1"
)
_MESSAGE_AT = "SELECT id, provider_id, direction, dedupe_key, received_at FROM mail_message WHERE id = {id}"
# NOT INDEXED: walk the rowid range of the new messages, not a whole covering index.
_COUNT_SINCE = (
    "SELECT provider_id, direction, count(*) FROM mail_message NOT INDEXED WHERE id > {id} "
    "GROUP BY provider_id, direction"
)
# Reading a new message's row costs about 4 times what counting one in the covering index
# does: when more than a quarter of them (and more than a few) are new, all are counted.
NEW_SHARE_FOR_FULL_COUNT = 4
FEW_NEW = 1_000


class QueuedCounts:
    """Each provider's received count, kept between two reads of the list's rows: a reload
    (once a second while something commits, with 1,000,000 messages queued) counts only
    the messages queued since the last read, not all of them again (~90 ms at 1,000,000).

    Messages are only ever inserted (the worker, `send`) or deleted with their provider;
    none changes provider or direction after its insert (tui.core.queue). So the counts
    kept are right as long as no message was deleted, and the new messages are those with
    a higher id than the last one seen, unless that one was deleted (SQLite then reuses
    ids). Both are checked on every read, cheaply: the last message seen still there, the
    same; and all the messages now = those then + the new ones (a deletion elsewhere).
    Otherwise, or when most messages are new, all are counted again. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, int] | None = None  # {provider id: received}; None: never counted
        self._total = 0  # the messages (both directions) when counted
        self._last: tuple | None = None  # the one with the highest id then (_LAST_MESSAGE)
        self.full_counts = 0  # how many times all the messages were counted (tests, bench)

    def read(self, cursor: Any) -> dict[int, int]:
        """{provider id: received}, up to date in the cursor's read transaction."""
        with self._lock:
            total = cursor.execute(_ALL_MESSAGES).fetchone()[0]
            last = cursor.execute(_LAST_MESSAGE).fetchone()
            counts = self._brought_up_to_date(cursor, total, last)
            if counts is None:
                counts = dict(cursor.execute(_QUEUED).fetchall())
                self.full_counts += 1
            self._counts, self._total, self._last = counts, total, last
            return counts

    def _brought_up_to_date(self, cursor: Any, total: int, last: tuple | None) -> dict[int, int] | None:
        """The counts kept plus the messages queued since; None when they cannot be trusted."""
        if self._counts is None:
            return None
        seen = self._last[0] if self._last is not None else 0
        if self._last is not None and cursor.execute(_MESSAGE_AT.format(id=int(seen))).fetchone() != self._last:
            return None  # deleted: the new messages may have taken its id and those below
        newest = last[0] if last is not None else 0
        if newest - seen > max(FEW_NEW, total // NEW_SHARE_FOR_FULL_COUNT):
            return None
        counts = dict(self._counts)
        added = 0
        for provider_id, direction, count in cursor.execute(_COUNT_SINCE.format(id=int(seen))).fetchall():
            added += count
            if direction == "in":
                counts[provider_id] = counts.get(provider_id, 0) + count
        if total != self._total + added:
            return None  # messages were deleted (with their provider)
        return counts


def peek_sqlite(db_url: str, convert: Callable[[ListRow], T] | None = None) -> list[T] | None:
    """The rows of an existing SQLite database, read-only with the sqlite3 module alone,
    before the store is opened (importing SQLAlchemy and checking the schema take longer than
    the read). None when that cannot be done (another kind of database, no file yet, a schema
    these columns do not match): the caller waits for the store."""
    peek = Peek.open(db_url)
    if peek is None:
        return None
    try:
        return peek.rows(convert)
    finally:
        peek.close()


class Peek:
    """A read-only sqlite3 connection to the store's SQLite file, opened without the store:
    the list's rows (the first screenful, then all), and `PRAGMA data_version` on the same
    connection, so that a caller can tell whether anyone committed since it read them. It may
    be handed from one thread to another, used by one at a time."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    @classmethod
    def open(cls, db_url: str) -> Peek | None:
        """None when the database is not an existing SQLite file."""
        prefix = "sqlite:///"
        if not db_url.startswith(prefix) or "?" in db_url:
            return None
        path = Path(db_url[len(prefix):])
        if not path.is_file():
            return None
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1,
                                         check_same_thread=False)
        except sqlite3.Error:
            return None
        try:
            connection.execute("PRAGMA schema_version").fetchone()  # a file that is not a database fails here
        except sqlite3.Error:
            connection.close()
            return None
        return cls(connection)

    def rows(self, convert: Callable[[ListRow], T] | None = None, limit: int | None = None) -> list[T] | None:
        """As `read_rows`; None when the file's schema does not fit (the caller waits for
        the store)."""
        try:
            return read_rows(self.connection, convert, limit)
        except (sqlite3.Error, ValueError, KeyError):
            return None

    def data_version(self) -> int:
        """Changes whenever another connection commits (see Store.commit_counter)."""
        return self.connection.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        self.connection.close()
