"""Providers in SQLite through SQLModel. The TUI, the CLI and a background worker share the
file, so every connection runs in WAL mode with a busy timeout. Migrations run on open.

Nothing secret is stored here: the password lives in keyring under the row's `secret_key`.
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine, select

from tui.core.domain import ProviderSettings, ProviderType, Security, Status, ValidationError
from tui.core.report import CheckReport, Failure, as_utc, utcnow

# The newest migration in tui/core/migrations/versions. A test keeps the two in step; knowing
# it here lets an up-to-date database open without importing Alembic (faster start-up).
HEAD_REVISION = "0002"
BUSY_TIMEOUT_MS = 5000


class ProviderRow(SQLModel, table=True):
    __tablename__ = "provider"

    id: int | None = Field(default=None, primary_key=True)
    secret_key: str = Field(unique=True)
    name: str
    name_key: str = Field(unique=True)  # name.casefold(): names are unique case-insensitively
    type: str
    account: str
    username: str | None = None  # None: log in with the account address
    from_name: str = ""
    receive_emails: bool = True
    active_reference: bool = True
    reply_to: str = "[]"  # JSON list of addresses
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    imap_host: str = ""
    imap_port: int = 993
    imap_security: str = "ssl"
    status: str = Status.GREY.value
    last_checked_at: datetime | None = None
    last_ok_at: datetime | None = None
    error_kind: str | None = None
    error_message: str | None = None
    error_remedy: str | None = None
    error_fields: str = "[]"
    last_report: str | None = None  # JSON of the last CheckReport (redacted)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class ProviderRecord:
    id: int
    secret_key: str
    settings: ProviderSettings
    status: Status
    last_checked_at: datetime | None
    last_ok_at: datetime | None
    failure: Failure | None
    report: CheckReport | None
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.settings.name


class NotFoundError(LookupError):
    def __init__(self, name: str):
        super().__init__(f"No provider named '{name}'.")
        self.name = name


class Store:
    def __init__(self, engine, url: str):
        self.engine = engine
        self.url = url

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

    # Reading -------------------------------------------------------------------------

    def list(self) -> list[ProviderRecord]:
        with Session(self.engine) as session:
            rows = session.exec(select(ProviderRow).order_by(ProviderRow.name_key)).all()
            return [_to_record(row) for row in rows]

    def names(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.exec(select(ProviderRow.name).order_by(ProviderRow.name_key)).all())

    def get(self, name: str) -> ProviderRecord | None:
        with Session(self.engine) as session:
            row = _find(session, name)
            return _to_record(row) if row else None

    def require(self, name: str) -> ProviderRecord:
        record = self.get(name)
        if record is None:
            raise NotFoundError(name)
        return record

    # Writing -------------------------------------------------------------------------

    def add(self, settings: ProviderSettings) -> ProviderRecord:
        row = ProviderRow(secret_key=uuid.uuid4().hex, name=settings.name, name_key="", type="", account="")
        _apply_settings(row, settings)
        return self._commit(row)

    def update(self, name: str, settings: ProviderSettings) -> ProviderRecord:
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            before = _to_settings(row).connection_key()
            _apply_settings(row, settings)
            if settings.connection_key() != before:
                _reset_status(row)
            row.updated_at = utcnow()
            return self._commit(row, session)

    def delete(self, name: str) -> ProviderRecord:
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            record = _to_record(row)
            session.delete(row)
            session.commit()
            return record

    def reset_status(self, name: str) -> ProviderRecord:
        """Grey again: the settings (or the password) changed since the last check."""
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            _reset_status(row)
            row.updated_at = utcnow()
            return self._commit(row, session)

    def save_report(self, name: str, report: CheckReport) -> ProviderRecord:
        with Session(self.engine) as session:
            row = _find_or_raise(session, name)
            failure = report.failure
            row.status = report.status.value
            row.last_checked_at = report.started_at
            if report.ok:
                row.last_ok_at = report.started_at
            row.error_kind = failure.kind.value if failure else None
            row.error_message = failure.message if failure else None
            row.error_remedy = failure.remedy if failure else None
            row.error_fields = json.dumps(list(failure.fields) if failure else [])
            row.last_report = json.dumps(report.to_dict())
            return self._commit(row, session)

    def _commit(self, row: ProviderRow, session: Session | None = None) -> ProviderRecord:
        own_session = session is None
        session = session or Session(self.engine)
        try:
            session.add(row)
            session.commit()
            session.refresh(row)
            return _to_record(row)
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
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        _create_private_file(sqlite_file)
    connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=connect_args)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory ones."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = make_url(url).database
    except ArgumentError:
        return None  # create_engine says what is wrong with it
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


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


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _find(session: Session, name: str) -> ProviderRow | None:
    key = name.strip().casefold()
    return session.exec(select(ProviderRow).where(ProviderRow.name_key == key)).first()


def _find_or_raise(session: Session, name: str) -> ProviderRow:
    row = _find(session, name)
    if row is None:
        raise NotFoundError(name)
    return row


def _apply_settings(row: ProviderRow, settings: ProviderSettings) -> None:
    row.name = settings.name
    row.name_key = settings.name.casefold()
    row.type = settings.type.value
    row.account = settings.account
    row.username = None if settings.username == settings.account else settings.username
    row.from_name = settings.from_name
    row.receive_emails = settings.receive_emails
    row.active_reference = settings.active_reference
    row.reply_to = json.dumps(list(settings.reply_to))
    for protocol in ("smtp", "imap"):
        for part in ("host", "port", "security"):
            value = getattr(settings, f"{protocol}_{part}")
            setattr(row, f"{protocol}_{part}", value.value if part == "security" else value)


def _reset_status(row: ProviderRow) -> None:
    row.status = Status.GREY.value
    row.error_kind = row.error_message = row.error_remedy = None
    row.error_fields = "[]"


def _to_settings(row: ProviderRow) -> ProviderSettings:
    return ProviderSettings(
        name=row.name,
        type=ProviderType(row.type),
        account=row.account,
        username=row.username or row.account,
        from_name=row.from_name or "",
        receive_emails=bool(row.receive_emails),
        active_reference=bool(row.active_reference),
        reply_to=tuple(json.loads(row.reply_to or "[]")),
        smtp_host=row.smtp_host,
        smtp_port=int(row.smtp_port),
        smtp_security=Security(row.smtp_security),
        imap_host=row.imap_host,
        imap_port=int(row.imap_port),
        imap_security=Security(row.imap_security),
    )


def _to_record(row: ProviderRow) -> ProviderRecord:
    failure = None
    if row.error_kind:
        failure = Failure.from_dict(
            {
                "kind": row.error_kind,
                "message": row.error_message or "",
                "remedy": row.error_remedy or "",
                "fields": json.loads(row.error_fields or "[]"),
            }
        )
    report = CheckReport.from_dict(json.loads(row.last_report)) if row.last_report else None
    return ProviderRecord(
        id=row.id,
        secret_key=row.secret_key,
        settings=_to_settings(row),
        status=Status(row.status),
        last_checked_at=_aware(row.last_checked_at),
        last_ok_at=_aware(row.last_ok_at),
        failure=failure,
        report=report,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)
