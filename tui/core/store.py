"""Providers in SQLite through SQLModel. The TUI, the CLI and a background worker share the
file, so every connection runs in WAL mode with a busy timeout. Migrations run on open.

Nothing secret is stored here. A provider has a slot per kind of secret, each a key into
the secret store: the password under the row's `secret_key`, the OAuth token cache under its
`token_key` (NULL until someone signs in). A key is never reused for another secret: a new
secret gets a new key. The `secret_intent` table lists the keys whose secret may exist
without a row using it (or, after an upgrade, a row whose password may be missing); the
service writes in this order: record the intent, write the secret, commit the row (which
settles the intent), and sweeps what a killed process left (see tui.core.service).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, event, insert, inspect, or_, text
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine, select

from tui.core.domain import ProviderSettings, SignIn, SmtpSignIn, Status, ValidationError
from tui.core.records import (  # noqa: F401 (HEAD_REVISION, NotFoundError: the store's names too)
    HEAD_REVISION,
    NotFoundError,
    new_secret_key,
    SUMMARIES_SQL,
    OAuthAppRecord,
    ProviderRecord,
    ProviderSummary,
    check_summary,
    record_of,
    report_of,
    save_checked_reports,
    sqlite_stamp,
    settings_of,
    SignInState,
    still_as_checked,
    summary_columns,
    summary_of,
    moment,
)
from tui.core.listing import ListRow, QueuedCounts, read_rows
from tui.core.report import CheckReport, Failure, utcnow

BUSY_TIMEOUT_MS = 5000


class ProviderRow(SQLModel, table=True):
    __tablename__ = "provider"

    id: int | None = Field(default=None, primary_key=True)
    secret_key: str = Field(unique=True)  # the password slot (a key with no password for OAuth)
    token_key: str | None = Field(default=None, unique=True)  # the OAuth token cache slot
    name: str
    name_key: str = Field(unique=True)  # name.casefold(): names are unique case-insensitively
    type: str
    sign_in: str = SignIn.PASSWORD.value
    account: str
    username: str | None = None  # None: log in with the account address
    from_name: str = ""
    active_reference: bool = True
    reply_to: str = "[]"  # JSON list of addresses
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_sign_in: str = SmtpSignIn.LOGIN.value  # none: a trusted relay, sending without login
    # All four NULL: Receive emails is off.
    inbound_protocol: str | None = None
    inbound_host: str | None = None
    inbound_port: int | None = None
    inbound_security: str | None = None
    status: str = Status.GREY.value
    last_checked_at: datetime | None = None
    last_ok_at: datetime | None = None
    error_kind: str | None = None
    error_message: str | None = None
    error_remedy: str | None = None
    error_fields: str = "[]"
    check_encrypted: bool | None = None  # the last check's connections (None: never checked)
    check_summary: str | None = None  # what the servers said at the last check (see records.py)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # OAuth sign-in (migration 0005); nothing secret: the tokens are in the token slot.
    shared_mailbox: bool = False  # the sign-in account may differ from the mailbox
    oauth_account: str | None = None  # who signed in (the id token's address)
    token_expires_at: datetime | None = None  # the access token's expiry
    refresh_token_at: datetime | None = None  # when the refresh token in use was issued


class ReportRow(SQLModel, table=True):
    """The last check's full report (JSON, redacted), read when one provider is opened. The
    provider row keeps its summary (see tui.core.records); both are written in one transaction.
    No foreign key: a migration that rebuilds the provider table must not cascade into it;
    the store deletes a provider's report with its row."""

    __tablename__ = "check_report"

    provider_id: int = Field(primary_key=True)
    report: str


class SecretIntentRow(SQLModel, table=True):
    """A secret key whose password may outlive its row, or a row its password (see above)."""

    __tablename__ = "secret_intent"

    secret_key: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class OAuthAppRow(SQLModel, table=True):
    """The organisation's app registration for one OAuth sign-in method (microsoft, google).
    `secret_key` names its client secret in the secret store (Google only)."""

    __tablename__ = "oauth_app"

    method: str = Field(primary_key=True)
    client_id: str
    tenant: str | None = None
    authority_host: str | None = None
    auth_uri: str | None = None
    token_uri: str | None = None
    secret_key: str | None = Field(default=None, unique=True)
    updated_at: datetime = Field(default_factory=utcnow)


class Store:
    def __init__(self, engine, url: str):
        self.engine = engine
        self.url = url
        # The list's queued counts, brought up to date at each reload (SQLite only).
        self.queued_counts = QueuedCounts() if url.startswith("sqlite") else None

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (and create, and migrate) the database at a SQLAlchemy URL.

        Raises DatabaseUnavailable, with one line saying what is wrong, when it cannot."""
        try:
            engine = _create_engine(url)
        except (SQLAlchemyError, ImportError, OSError, ValueError) as exc:
            raise DatabaseUnavailable(url, _open_problem(exc, url)) from None
        store = cls(engine, url)
        try:
            store._migrate_to_head()
        except DatabaseUnavailable:
            engine.dispose()
            raise
        except (SQLAlchemyError, OSError) as exc:
            engine.dispose()
            raise DatabaseUnavailable(url, _open_problem(exc, url)) from None
        return store

    def _migrate_to_head(self) -> None:
        """Bring the schema to HEAD_REVISION. Several processes may start on a new database
        at once: the revision is read again under an exclusive lock, so only the first one
        migrates, and the others find the schema already at head."""
        if self.schema_revision() == HEAD_REVISION:
            return  # the everyday path: no lock, no Alembic import
        from alembic.util import CommandError

        from tui.core.migrations import upgrade

        with self.engine.connect() as connection:
            _lock_for_migration(connection)
            revision = _revision(connection)
            if revision != HEAD_REVISION:
                try:
                    upgrade(connection)
                except CommandError:  # a revision we do not know: a newer mailprov wrote it
                    raise DatabaseUnavailable(self.url, (
                        f"its schema is at revision {revision}, which this mailprov (schema "
                        f"{HEAD_REVISION}) does not know: a newer mailprov uses it; run that one."
                    )) from None
            connection.commit()

    def close(self) -> None:
        self.engine.dispose()

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return _revision(conn)

    @contextmanager
    def commit_counter(self) -> Iterator[Callable[[], int] | None]:
        """For following the database while it is shown (read-only): yields a function whose
        number changes whenever another connection commits (another process, or another
        thread of this one): SQLite's `PRAGMA data_version`, read on one connection kept for
        this, which reads no table. Yields None for other databases. Use it in one thread."""
        if not self.url.startswith("sqlite"):
            yield None
            return
        connection = self.engine.raw_connection()
        try:
            yield lambda: connection.cursor().execute("PRAGMA data_version").fetchone()[0]
        finally:
            connection.close()

    # Reading -------------------------------------------------------------------------

    def list(self, reports: bool = True) -> list[ProviderRecord]:
        """Every provider, by name; without their last reports when `reports` is False
        (what a check of all of them, an export or an import needs)."""
        return [*self.records(reports=reports, page=None)]

    def records(self, reports: bool = True, page: int | None = 500) -> Iterator[ProviderRecord]:
        """Every provider, by name, read `page` rows at a time (after the last name read;
        None: all at once): memory stays flat however many providers there are. Plain rows
        (no ORM object per provider), converted by tui.core.records."""
        after = ""
        while True:
            with self.engine.connect() as connection:
                limit = "" if page is None else f" LIMIT {int(page)}"
                rows = connection.execute(
                    text(f"SELECT * FROM provider WHERE name_key > :after ORDER BY name_key{limit}"), {"after": after}
                ).mappings().all()
                if not rows:
                    return
                saved = _reports(connection, [row["id"] for row in rows]) if reports else {}
            after = rows[-1]["name_key"]
            yield from (record_of(row, saved.get(row["id"])) for row in rows)
            if page is None:
                return

    def password_keys(self) -> list[str]:
        """The password slot keys of the providers that sign in with a password."""
        with Session(self.engine) as session:
            query = select(ProviderRow.secret_key).where(ProviderRow.sign_in == SignIn.PASSWORD.value)
            return list(session.exec(query).all())

    def summaries(self) -> list[ProviderSummary]:
        """What a provider list shows, by name: one light row per provider, read from the
        provider table alone (no report, no ORM object): see tui.core.records."""
        with self.engine.connect() as connection:
            return [summary_of(row) for row in connection.execute(text(SUMMARIES_SQL))]

    def report(self, name: str) -> CheckReport | None:
        """The last saved report of one provider (None when it has none, or no such provider)."""
        with Session(self.engine) as session:
            row = _find(session, name)
            return report_of(_report_json(session, row.id)) if row else None

    def named(self, names: list[str]) -> list[ProviderRecord]:
        """The providers with these names (case-insensitive), in the order given, without
        their reports; raises NotFoundError for the first name that has none."""
        keys = [name.strip().casefold() for name in names]
        found: dict[str, ProviderRecord] = {}
        with Session(self.engine) as session:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                rows = session.exec(select(ProviderRow).where(ProviderRow.name_key.in_(chunk))).all()
                found.update((row.name_key, _to_record(row)) for row in rows)
        missing = next((name for name, key in zip(names, keys) if key not in found), None)
        if missing is not None:
            raise NotFoundError(missing)
        return [found[key] for key in keys]

    def list_rows(self, convert: Callable[[ListRow], object] | None = None) -> list:
        """What the list shows of every provider, by name: light rows (tui.core.listing),
        no ORM object and no report, each passed through `convert` as it is read; `get`
        reads a provider's report."""
        connection = self.engine.raw_connection()
        try:
            return read_rows(connection, convert, queued=self.queued_counts)
        finally:
            connection.close()

    def names(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.exec(select(ProviderRow.name).order_by(ProviderRow.name_key)).all())

    def get(self, name: str) -> ProviderRecord | None:
        with Session(self.engine) as session:
            row = _find(session, name)
            return _to_record(row, _report_json(session, row.id)) if row else None

    def get_by_id(self, provider_id: int) -> ProviderRecord | None:
        with Session(self.engine) as session:
            row = session.get(ProviderRow, provider_id)
            return _to_record(row) if row else None

    def require(self, name: str) -> ProviderRecord:
        record = self.get(name)
        if record is None:
            raise NotFoundError(name)
        return record

    def by_secret_key(self, keys: list[str]) -> dict[str, ProviderRecord]:
        """The providers whose password slot uses one of these keys, by key."""
        found: dict[str, ProviderRecord] = {}
        with Session(self.engine) as session:
            for chunk in _chunks(keys):
                rows = session.exec(select(ProviderRow).where(ProviderRow.secret_key.in_(chunk))).all()
                found.update((row.secret_key, _to_record(row)) for row in rows)
        return found

    def keys_in_use(self, keys: list[str]) -> set[str]:
        """Those of `keys` that some provider uses, in any of its secret slots."""
        used: set[str] = set()
        with Session(self.engine) as session:
            for chunk in _chunks(keys):
                rows = session.exec(
                    select(ProviderRow.secret_key, ProviderRow.token_key).where(
                        or_(ProviderRow.secret_key.in_(chunk), ProviderRow.token_key.in_(chunk))
                    )
                ).all()
                used.update(key for row in rows for key in row if key in chunk)
                used.update(session.exec(select(OAuthAppRow.secret_key).where(OAuthAppRow.secret_key.in_(chunk))).all())
        return used

    # Writing -------------------------------------------------------------------------
    # Each method is one SQL transaction. A row that starts using a secret key settles that
    # key's intent in the same transaction; a row that stops using one records it.

    def add(self, settings: ProviderSettings, secret_key: str | None = None) -> ProviderRecord:
        with Session(self.engine) as session:
            row = _new_row(settings, secret_key or new_secret_key())
            _settle(session, [row.secret_key])
            return self._commit(row, session)

    def update(
        self, name: str, settings: ProviderSettings, secret_key: str | None = None, drop_token: bool = False
    ) -> ProviderRecord:
        """New settings; with `secret_key`, the row moves to that key (a new password): the
        old key is recorded as an intent, to be deleted, and the status goes back to grey.
        With `drop_token`, the token slot is emptied the same way (its sign-in is gone)."""
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            _update_row(session, row, settings, secret_key, drop_token)
            return self._commit(row, session)

    def write_many(
        self,
        creates: list[tuple[ProviderSettings, str]],
        updates: list[tuple[str, ProviderSettings, str | None, bool]],
    ) -> None:
        """Create and update many providers in one transaction (an import): all or nothing.
        An update is (name, settings, new secret key or None, drop the token slot)."""
        with Session(self.engine, expire_on_commit=False) as session:
            rows = {row.name_key: row for row in session.exec(select(ProviderRow)).all()} if updates else {}
            for name, settings, secret_key, drop_token in updates:
                row = rows.get(name.strip().casefold())
                if row is None:
                    raise NotFoundError(name)
                _update_row(session, row, settings, secret_key, drop_token)
            now = utcnow()
            new_rows = [_new_row_columns(settings, key, now) for settings, key in creates]
            _settle(session, [key for _, key in creates])
            try:
                if new_rows:
                    session.exec(insert(ProviderRow), params=new_rows)
                session.commit()
            except IntegrityError:
                session.rollback()
                raise ValidationError({"name": "Another provider took one of these names meanwhile."}) from None

    def delete(self, name: str, force: bool = False) -> ProviderRecord:
        """Remove the row and record the keys of its slots, whose secrets are deleted next.
        Its queue goes with it (tui.core.queue). When campaigns use it, raises ProviderInUse
        naming them, unless `force`: then they are detached in the same transaction."""
        return self.delete_detaching(name, force)[0]

    def delete_detaching(self, name: str, force: bool = False) -> tuple[ProviderRecord, list[int]]:
        """`delete`, also returning the ids of the campaigns it detached (to put back)."""
        from tui.core.campaigns import ProviderInUse, detach_all, names_using
        from tui.core.queue import forget_provider

        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            record = _to_record(row, _report_json(session, row.id))
            users = names_using(session, row.id)
            if users and not force:
                raise ProviderInUse(record.name, users)
            detached = detach_all(session, row.id)
            forget_provider(session, row.id)
            session.delete(row)
            _put_report(session, record.id, None)
            _record_intents(session, record.secret_keys)
            session.commit()
            return record, detached

    def restore(self, record: ProviderRecord) -> ProviderRecord:
        """Put back a row `delete()` removed (its secrets could not be deleted)."""
        with Session(self.engine) as session:
            row = _new_row(record.settings, record.secret_key)
            row.id = record.id
            row.token_key = record.token_key
            _set_sign_in_state(row, record.sign_in_state)
            _set_status(row, record)
            _put_report(session, record.id, record.report)
            row.created_at, row.updated_at = record.created_at, record.updated_at
            _settle(session, record.secret_keys)
            return self._commit(row, session)

    def set_token_key(self, name: str, token_key: str, state: SignInState | None = None) -> ProviderRecord:
        """Move the OAuth token slot to a new key (a new sign-in): the old key, if any, is
        recorded as an intent, to be deleted, and the status goes back to grey. `state`
        (who signed in, the tokens' times) is saved with it."""
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            if row.token_key:
                _record_intents(session, [row.token_key])
            _settle(session, [token_key])
            row.token_key = token_key
            _set_sign_in_state(row, state or SignInState(shared_mailbox=row.shared_mailbox))
            _reset_status(row)  # a new sign-in has not been checked
            row.updated_at = utcnow()
            return self._commit(row, session)

    def note_token_refresh(
        self, name: str, token_key: str, expires_at: datetime | None, refresh_token_at: datetime | None
    ) -> ProviderRecord | None:
        """A refresh rewrote the token slot in place: its times, when the row still uses
        `token_key` (else None: someone signed in again meanwhile). The status stays."""
        with Session(self.engine) as session:
            row = _find(session, name)
            if row is None or row.token_key != token_key:
                return None
            row.token_expires_at = expires_at
            if refresh_token_at is not None:
                row.refresh_token_at = refresh_token_at
            return self._commit(row, session)

    def set_shared_mailbox(self, name: str, shared: bool) -> ProviderRecord:
        """Whether the sign-in account may differ from the mailbox (a shared mailbox)."""
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            row.shared_mailbox = shared
            row.updated_at = utcnow()
            return self._commit(row, session)

    # OAuth app registrations -----------------------------------------------------------

    def oauth_app(self, method: str) -> OAuthAppRecord | None:
        with Session(self.engine) as session:
            row = session.get(OAuthAppRow, method)
            return _to_app_record(row) if row else None

    def set_oauth_app(self, record: OAuthAppRecord) -> OAuthAppRecord | None:
        """Save an app registration in one transaction; its secret key, when new, settles its
        intent, and the key it replaces is recorded (its secret is deleted next). Returns the
        previous record (None when there was none)."""
        with Session(self.engine) as session:
            row = session.get(OAuthAppRow, record.method)
            before = _to_app_record(row) if row else None
            row = row or OAuthAppRow(method=record.method, client_id=record.client_id)
            for column in ("client_id", "tenant", "authority_host", "auth_uri", "token_uri", "secret_key"):
                setattr(row, column, getattr(record, column))
            row.updated_at = utcnow()
            if record.secret_key:
                _settle(session, [record.secret_key])
            if before and before.secret_key and before.secret_key != record.secret_key:
                _record_intents(session, [before.secret_key])
            session.add(row)
            session.commit()
            return before

    # Secret intents --------------------------------------------------------------------

    def record_intents(self, keys: list[str]) -> None:
        with Session(self.engine) as session:
            _record_intents(session, keys)
            session.commit()

    def settle_intents(self, keys: list[str]) -> None:
        with Session(self.engine) as session:
            _settle(session, keys)
            session.commit()

    def intents(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.exec(select(SecretIntentRow.secret_key)).all())

    def has_intents(self) -> bool:
        with Session(self.engine) as session:
            return session.exec(select(SecretIntentRow.secret_key).limit(1)).first() is not None

    def mark_password_problem(self, secret_key: str, failure: Failure) -> None:
        """Red, with a `secret` failure: the row's password is missing or cannot be read."""
        with Session(self.engine) as session:
            row = session.exec(select(ProviderRow).where(ProviderRow.secret_key == secret_key)).first()
            if row is not None:
                row.status = Status.RED.value
                _set_failure(row, failure)
                row.check_encrypted = row.check_summary = None
                _put_report(session, row.id, None)
                session.add(row)
                session.commit()

    def reset_status(self, name: str) -> ProviderRecord:
        """Grey again: the settings (or the password) changed since the last check."""
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            _reset_status(row)
            row.updated_at = utcnow()
            return self._commit(row, session)

    def save_report(
        self, name: str, report: CheckReport, checked: ProviderRecord | None = None
    ) -> ProviderRecord | None:
        """Save a check's result. With `checked` (the record the check ran on), only while
        the row still has the connection settings and the secret key that were checked:
        otherwise the report is stale, nothing is saved and None is returned."""
        with Session(self.engine) as session:
            if checked is None:
                row = _find_or_raise(session, name)
            else:
                row = session.get(ProviderRow, checked.id)
                if row is None or not _still_as_checked(row, checked):
                    return None
            _apply_report(session, row, report)
            return self._commit(row, session)

    def set_receive_status(self, checked: ProviderRecord, status: Status, failure: Failure | None) -> bool:
        """The receive worker's verdict on a provider (red with a failure, or green again),
        written only while the row still has the settings and keys the worker used (an
        edit or a newer check wins) and only when it changes something. True when written."""
        with Session(self.engine) as session:
            if self.url.startswith("sqlite"):
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")  # read and write as one
            row = session.get(ProviderRow, checked.id)
            if row is None or not _still_as_checked(row, checked) or row.status == Status.GREY.value:
                return False
            kind = failure.kind.value if failure else None
            if row.status == status.value and row.error_kind == kind and row.error_message == (failure and failure.message):
                return False
            row.status = status.value
            _set_failure(row, failure)
            if failure is None:
                row.last_ok_at = utcnow()
            session.add(row)
            session.commit()
            return True

    def save_reports(self, checked_reports: list[tuple[ProviderRecord, CheckReport]]) -> list[bool]:
        """Save many checks' results in one transaction, each only while its row still has
        the settings and the secret keys it was checked with (see save_report); for each,
        whether it was saved. (The SQL is tui.core.records', shared with the quick path.)"""
        with self.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                return _save_reports_on_the_driver(connection, checked_reports)
            return save_checked_reports(
                lambda sql, params: connection.execute(text(sql), params).mappings().first(),
                lambda sql, params: connection.execute(text(sql), params),
                checked_reports,
            )

    def _commit(self, row: ProviderRow, session: Session | None = None) -> ProviderRecord:
        own_session = session is None
        session = session or Session(self.engine)
        try:
            session.add(row)
            session.commit()
            session.refresh(row)
            return _to_record(row, _report_json(session, row.id))
        except IntegrityError:
            session.rollback()
            raise ValidationError({"name": f"A provider named '{row.name}' already exists."}) from None
        finally:
            if own_session:
                session.close()


class DatabaseUnavailable(Exception):
    """The database cannot be opened, created or migrated. `str()` is one line: the database
    (its password masked) and what is wrong."""

    def __init__(self, url: str, problem: str):
        from tui.core.settings import db_label, without_db_password

        self.label = db_label(url)
        self.problem = without_db_password(problem, url)
        super().__init__(f"{self.label}: {self.problem}")


def _create_engine(url: str):
    """The engine for `url`; a new SQLite file is created first, private to the user."""
    from tui.core.settings import sqlite_file

    path = sqlite_file(url)
    if path is not None:
        _create_private_file(path)
    connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=connect_args)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private_file(path: Path) -> None:
    """Create the database file (and its folder) readable by the user alone: SQLite gives its
    -wal and -shm files the mode of the database file. An existing file is left as it is."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "this is a folder; give the path of a database file in it")
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:  # a file stands where the folder should be
        raise NotADirectoryError(errno.ENOTDIR, "a file has that name", f"the folder {path.parent}") from None
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # empty = new database
    except FileExistsError:
        pass  # another process created it first


def _revision(connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _lock_for_migration(connection) -> None:
    """Start the migration's transaction holding the database's write lock. On SQLite,
    BEGIN EXCLUSIVE makes every other process that migrates (or writes) wait, within the
    busy timeout, until this transaction ends; the schema's DDL commits with it, all at once."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN EXCLUSIVE")


def _open_problem(exc: BaseException, url: str) -> str:
    """What went wrong opening the database, in one line, with what to do about it."""
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    if isinstance(exc, ImportError):
        package = DRIVER_PACKAGES.get(exc.name or "", exc.name or "its driver")
        return (f"the {dialect} driver is not installed: install the Python package {package} "
                f"into mailprov's environment (pip install '{package}').")
    if isinstance(exc, NoSuchModuleError):
        return (f"unknown database type '{dialect}'. Give a file path, or a SQLAlchemy URL "
                "such as sqlite:////path/to/mailprov.db.")
    if isinstance(exc, (ArgumentError, ValueError)):
        return (f"not a database URL mailprov can read ({exc}). Give a file path, or a "
                "SQLAlchemy URL such as sqlite:////path/to/mailprov.db.")
    if isinstance(exc, OSError):  # only ever about a SQLite file or its folder
        if exc.filename is None:
            return f"{exc.strerror or exc}."
        return f"cannot create {exc.filename}: {exc.strerror or exc}."
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if "unable to open database file" in detail:
        return f"{detail}: check that its folder exists and that you may write there."
    if "file is not a database" in detail:
        return f"{detail}: this file is not a mailprov database."
    return detail


# The package that provides a database driver module, when the two names differ.
DRIVER_PACKAGES = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
    "pymysql": "PyMySQL",
    "mysql": "mysql-connector-python",
}


def _save_reports_on_the_driver(connection, checked_reports: list[tuple[ProviderRecord, CheckReport]]) -> list[bool]:
    """save_checked_reports on the sqlite3 connection under `connection`, in its transaction
    (the same statements, in the same order, committed or rolled back with it): SQLAlchemy's
    statement and result building cost several times what SQLite takes to run them, about
    1 ms of CPU a report. A database error comes out as SQLAlchemy's, as it did before."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    cursor = connection.connection.driver_connection.cursor()
    cursor.row_factory = sqlite3.Row  # rows read by column name, as SQLAlchemy's mappings

    def execute(sql: str, params: dict):
        try:
            return cursor.execute(sql, params)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc

    try:
        return save_checked_reports(
            lambda sql, params: execute(sql, params).fetchone(), execute, checked_reports, sqlite_stamp
        )
    finally:
        cursor.close()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _chunks(items: list[str], size: int = 500):
    """SQLite limits the parameters of one statement: ask for many keys in slices."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_intents(session: Session, keys: list[str]) -> None:
    known = set()
    for chunk in _chunks(keys):
        known.update(session.exec(select(SecretIntentRow.secret_key).where(SecretIntentRow.secret_key.in_(chunk))).all())
    now = utcnow()
    rows = [{"secret_key": key, "created_at": now} for key in dict.fromkeys(keys) if key not in known]
    if rows:
        session.exec(insert(SecretIntentRow), params=rows)


def _settle(session: Session, keys: list[str]) -> None:
    for chunk in _chunks(keys):
        session.exec(delete(SecretIntentRow).where(SecretIntentRow.secret_key.in_(chunk)))


def _new_row(settings: ProviderSettings, secret_key: str) -> ProviderRow:
    row = ProviderRow(secret_key=secret_key, name=settings.name, name_key="", type="", account="")
    _apply_settings(row, settings)
    return row


def _update_row(
    session: Session, row: ProviderRow, settings: ProviderSettings, secret_key: str | None, drop_token: bool = False
) -> None:
    before = _to_settings(row).connection_key()
    _apply_settings(row, settings)
    if settings.connection_key() != before:
        _reset_status(row)
    if secret_key is not None and secret_key != row.secret_key:
        _record_intents(session, [row.secret_key])
        _settle(session, [secret_key])
        row.secret_key = secret_key
        _reset_status(row)  # a new password has not been checked
    if drop_token and row.token_key:
        _record_intents(session, [row.token_key])
        row.token_key = None
        _set_sign_in_state(row, SignInState(shared_mailbox=row.shared_mailbox))
        _reset_status(row)
    row.updated_at = utcnow()
    session.add(row)


def _still_as_checked(row: ProviderRow, checked: ProviderRecord) -> bool:
    return still_as_checked(_Columns(row), checked)


def _apply_report(session: Session, row: ProviderRow, report: CheckReport) -> None:
    """The report and its summary columns, in the caller's transaction."""
    for column, value in summary_columns(report).items():
        setattr(row, column, value)
    if report.ok:
        row.last_ok_at = report.started_at
    session.add(row)
    _put_report(session, row.id, report)


def _set_sign_in_state(row: ProviderRow, state: SignInState) -> None:
    row.oauth_account = state.account
    row.token_expires_at = state.token_expires_at
    row.refresh_token_at = state.refresh_token_at
    row.shared_mailbox = state.shared_mailbox


def _to_app_record(row: OAuthAppRow) -> OAuthAppRecord:
    return OAuthAppRecord(
        method=row.method, client_id=row.client_id, tenant=row.tenant, authority_host=row.authority_host,
        auth_uri=row.auth_uri, token_uri=row.token_uri, secret_key=row.secret_key,
        updated_at=moment(row.updated_at),
    )


def _set_failure(row: ProviderRow, failure: Failure | None) -> None:
    row.error_kind = failure.kind.value if failure else None
    row.error_message = failure.message if failure else None
    row.error_remedy = failure.remedy if failure else None
    row.error_fields = json.dumps(list(failure.fields) if failure else [])


def _set_status(row: ProviderRow, record: ProviderRecord) -> None:
    row.status = record.status.value
    row.last_checked_at, row.last_ok_at = record.last_checked_at, record.last_ok_at
    _set_failure(row, record.failure)
    row.check_encrypted = record.report.encrypted if record.report else None
    row.check_summary = check_summary(record.report) if record.report else None


def _find(session: Session, name: str) -> ProviderRow | None:
    key = name.strip().casefold()
    if any("\ud800" <= ch <= "\udfff" for ch in key):
        return None  # bytes that were not UTF-8: no stored name has them
    return session.exec(select(ProviderRow).where(ProviderRow.name_key == key)).first()


def _find_or_raise(session: Session, name: str) -> ProviderRow:
    row = _find(session, name)
    if row is None:
        raise NotFoundError(name)
    return row


def _apply_settings(row: ProviderRow, settings: ProviderSettings) -> None:
    for column, value in _settings_columns(settings).items():
        setattr(row, column, value)


def _settings_columns(settings: ProviderSettings) -> dict[str, object]:
    outbound, inbound = settings.outbound, settings.inbound
    return {
        "name": settings.name,
        "name_key": settings.name.casefold(),
        "type": settings.type.value,
        "sign_in": settings.sign_in.value,
        "account": settings.account,
        "username": None if settings.username == settings.account else settings.username,
        "from_name": settings.from_name,
        "active_reference": settings.active_reference,
        "reply_to": json.dumps(list(settings.reply_to)),
        "smtp_host": outbound.host,
        "smtp_port": outbound.port,
        "smtp_security": outbound.security.value,
        "smtp_sign_in": settings.smtp_sign_in.value,
        "inbound_protocol": inbound.protocol.value if inbound else None,
        "inbound_host": inbound.server.host if inbound else None,
        "inbound_port": inbound.server.port if inbound else None,
        "inbound_security": inbound.server.security.value if inbound else None,
    }


def _new_row_columns(settings: ProviderSettings, secret_key: str, now: datetime) -> dict[str, object]:
    """A new grey row as plain columns, for one multi-row INSERT (an import)."""
    return {**_settings_columns(settings), "secret_key": secret_key, "status": Status.GREY.value,
            "error_fields": "[]", "created_at": now, "updated_at": now}


def _reset_status(row: ProviderRow) -> None:
    row.status = Status.GREY.value
    row.error_kind = row.error_message = row.error_remedy = None
    row.error_fields = "[]"


class _Columns:
    """An ORM row seen as a mapping of its columns, for the converters of tui.core.records."""

    __slots__ = ("row",)

    def __init__(self, row: ProviderRow):
        self.row = row

    def __getitem__(self, column: str):
        return getattr(self.row, column)


def _to_settings(row: ProviderRow) -> ProviderSettings:
    return settings_of(_Columns(row))


def _to_record(row: ProviderRow, report_json: str | None = None) -> ProviderRecord:
    return record_of(_Columns(row), report_json)


def _reports(connection, ids: list[int]) -> dict[int, str]:
    """The saved reports of these providers, by id."""
    saved: dict[int, str] = {}
    for chunk in _chunks(ids):
        query = select(ReportRow.provider_id, ReportRow.report).where(ReportRow.provider_id.in_(chunk))
        saved.update((row_id, report) for row_id, report in connection.execute(query))
    return saved


def _report_json(session: Session, provider_id: int) -> str | None:
    return session.exec(select(ReportRow.report).where(ReportRow.provider_id == provider_id)).first()


def _put_report(session: Session, provider_id: int, report: CheckReport | None) -> None:
    """The row's full report (None: it has none), in the caller's transaction."""
    session.exec(delete(ReportRow).where(ReportRow.provider_id == provider_id))
    if report is not None:
        session.exec(insert(ReportRow), params=[{"provider_id": provider_id, "report": json.dumps(report.to_dict())}])
