"""The quick path of commands that only read (`provider list`, `provider show`, `doctor`) and
of `check` (which reads providers and saves check reports): stdlib sqlite3, no SQLAlchemy,
no Alembic.

Importing the store (SQLModel, SQLAlchemy) costs more than a whole read-only command should.
So when the database is a SQLite file whose schema is current and has nothing left for a
sweep (no secret intent pending), these commands read it here, with the SQL and the
conversions of tui.core.records that the store uses too. Otherwise `Reader.open()` returns
None and the command takes the full path (which migrates, sweeps and reports problems).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from tui.core.records import (
    HEAD_REVISION,
    REPORT_BY_NAME_SQL,
    SUMMARIES_SQL,
    NotFoundError,
    ProviderRecord,
    ProviderSummary,
    record_of,
    report_of,
    save_checked_reports,
    sqlite_stamp,
    summary_of,
)
from tui.core.report import CheckReport
from tui.core.settings import Settings, sqlite_file

BUSY_TIMEOUT_SECONDS = 5.0  # as the store's


class ReadFailed(Exception):
    """The database could not be read (or a check report saved) on the quick path."""


class Reader:
    """The provider list, one provider, its report: the same answers as the store's
    `summaries()`, `records()`, `named()`, `require()`, `report()` and `password_keys()`.
    Its one write is `save_reports()` (the store's, same SQL), so that `check` runs on
    this path too (ProviderService.check_all needs nothing else of a store)."""

    def __init__(self, connection: sqlite3.Connection, url: str):
        self.connection = connection
        self.url = url
        connection.row_factory = sqlite3.Row

    @classmethod
    def open(cls, settings: Settings) -> Reader | None:
        """A reader when the quick path applies (see the module doc), else None."""
        path = sqlite_file(settings.db_url)
        if path is None or not Path(path).is_file():
            return None
        try:
            # mode=rw: never creates a file; nothing is written on this path.
            uri = f"{Path(path).resolve().as_uri()}?mode=rw"
            connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        except sqlite3.Error:
            return None
        try:
            if _revision(connection) == HEAD_REVISION and not _sweep_pending(connection):
                # Its one write is a check report: in WAL mode, NORMAL commits survive a killed
                # process and stay atomic; only a power cut may lose the last report (the old
                # one is then kept), which is worth not waiting for an fsync per check.
                connection.execute("PRAGMA synchronous=NORMAL")
                return cls(connection, settings.db_url)
        except sqlite3.Error:
            pass
        connection.close()
        return None

    def close(self) -> None:
        self.connection.close()

    def summaries(self) -> list[ProviderSummary]:
        return [summary_of(row) for row in self.summary_rows()]

    def summary_rows(self) -> list[tuple]:
        """The rows summaries() are made of, as stored (tuples in SUMMARY_COLUMNS order): for
        `provider list`, which converts each distinct combination of values once."""
        with self._reading():
            cursor = self.connection.execute(SUMMARIES_SQL)
            cursor.row_factory = None  # plain tuples
            return cursor.fetchall()

    def records(self, reports: bool = True, page: int = 500) -> Iterator[ProviderRecord]:
        """Every provider by name, `page` rows at a time: memory stays flat in the count."""
        after = ""
        while True:
            with self._reading():
                rows = self.connection.execute(
                    "SELECT * FROM provider WHERE name_key > :after ORDER BY name_key LIMIT :page",
                    {"after": after, "page": page},
                ).fetchall()
                if not rows:
                    return
                saved = self._reports([row["id"] for row in rows]) if reports else {}
            after = rows[-1]["name_key"]
            yield from (record_of(row, saved.get(row["id"])) for row in rows)

    def named(self, names: list[str]) -> list[ProviderRecord]:
        """The providers with these names, in the order given, without their reports;
        raises NotFoundError for the first name that has none."""
        records = []
        for name in names:
            record = self.get(name, report=False)
            if record is None:
                raise NotFoundError(name)
            records.append(record)
        return records

    def oauth_records(self) -> list[ProviderRecord]:
        """The providers that sign in with OAuth (Outlook, Gmail), by name, without reports."""
        with self._reading():
            rows = self.connection.execute(
                "SELECT * FROM provider WHERE sign_in != 'password' ORDER BY name_key"
            ).fetchall()
        return [record_of(row) for row in rows]

    def has_oauth_sign_in(self) -> bool:
        """Whether any provider has signed in with OAuth: refreshing its token writes through
        the full store, so `check` takes the full path then."""
        with self._reading():
            return self.connection.execute("SELECT 1 FROM provider WHERE token_key IS NOT NULL LIMIT 1").fetchone() is not None

    def password_keys(self) -> list[str]:
        with self._reading():
            rows = self.connection.execute("SELECT secret_key FROM provider WHERE sign_in = 'password'")
            return [row[0] for row in rows]

    def save_reports(self, checked_reports: list[tuple[ProviderRecord, CheckReport]]) -> list[bool]:
        """As Store.save_reports: one transaction, each report only while its row is as checked."""
        connection = self.connection
        with self._reading(), connection:  # commits, or rolls back on an error
            return save_checked_reports(
                lambda sql, params: connection.execute(sql, params).fetchone(),
                connection.execute,
                checked_reports,
                sqlite_stamp,
            )

    def get(self, name: str, report: bool = True) -> ProviderRecord | None:
        key = name.strip().casefold()
        with self._reading():
            try:
                row = self.connection.execute("SELECT * FROM provider WHERE name_key = :key", {"key": key}).fetchone()
            except UnicodeEncodeError:
                return None  # bytes that were not UTF-8: no stored name has them
            if row is None:
                return None
            return record_of(row, self._reports([row["id"]]).get(row["id"]) if report else None)

    def require(self, name: str) -> ProviderRecord:
        record = self.get(name)
        if record is None:
            raise NotFoundError(name)
        return record

    def report(self, name: str) -> CheckReport | None:
        with self._reading():
            try:
                row = self.connection.execute(REPORT_BY_NAME_SQL, {"name_key": name.strip().casefold()}).fetchone()
            except UnicodeEncodeError:
                return None
        return report_of(row[0]) if row else None

    def count(self) -> int:
        with self._reading():
            return self.connection.execute("SELECT count(*) FROM provider").fetchone()[0]

    def _reports(self, ids: list[int]) -> dict[int, str]:
        marks = ", ".join("?" * len(ids))
        rows = self.connection.execute(f"SELECT provider_id, report FROM check_report WHERE provider_id IN ({marks})", ids)
        return {row[0]: row[1] for row in rows}

    def _reading(self):
        return _DatabaseErrors()


class _DatabaseErrors:
    """sqlite3 errors as ReadFailed, one line, for the command's error handling."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> bool:
        if isinstance(error, sqlite3.Error):
            raise ReadFailed(str(error).splitlines()[0] if str(error) else type(error).__name__) from None
        return False


def _revision(connection: sqlite3.Connection) -> str | None:
    if not connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone():
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _sweep_pending(connection: sqlite3.Connection) -> bool:
    return connection.execute("SELECT 1 FROM secret_intent LIMIT 1").fetchone() is not None
