"""`mailprov doctor`: what this installation runs on, for bug reports and first set-up."""

from __future__ import annotations

import platform
import ssl
import stat
from importlib import metadata
from pathlib import Path

from tui.core.settings import Settings

PACKAGES = ("mailprov", "textual", "sqlmodel", "sqlalchemy", "alembic", "keyring", "imapclient",
            "msal", "google-auth-oauthlib")


def collect(settings: Settings) -> list[tuple[str, str, bool]]:
    """(label, value, ok) rows. Never raises: a failing part is a row that says why."""
    rows = [("python", platform.python_version(), True), ("openssl", ssl.OPENSSL_VERSION, True)]
    rows += [(name, _version(name), True) for name in PACKAGES]
    rows.append(_database_row(settings))
    rows += _permission_rows(settings)
    rows.append(_secrets_row(settings))
    rows.append(_ca_row(settings))
    rows.append(("timeout", f"{settings.timeout:g} s per network operation", True))
    rows.append(_log_row(settings))
    rows += _sign_in_rows(settings)
    return rows


def _sign_in_rows(settings: Settings) -> list[tuple[str, str, bool]]:
    """Per Outlook or Gmail provider: who is signed in, the access token's expiry and the
    refresh token's age (from the database: no secret is read). Not signed in, or a
    sign-in that failed (kind oauth), is a problem to fix with `mailprov login NAME`."""
    from tui.core.oauth.tokens import TokenStatus
    from tui.core.report import FailureKind
    try:
        records = _oauth_records(settings)
    except Exception:  # the database row above already says what is wrong
        return []
    rows = []
    for record in records:
        state = record.sign_in_state
        status = TokenStatus(record.token_key is not None, state.account, state.token_expires_at,
                             state.refresh_token_at, state.shared_mailbox)
        failed = record.failure is not None and record.failure.kind is FailureKind.OAUTH
        text = status.describe()
        if failed:
            text += f"; last sign-in failed: {record.failure.message}"
        if failed or not status.signed_in:
            text += f" (run `mailprov login {record.name}`)"
        rows.append(("sign-in", f"{record.name}: {text}", status.signed_in and not failed))
    return rows


def _oauth_records(settings: Settings) -> list:
    """The Outlook and Gmail providers, without their reports; read on the quick path when
    the database allows it (see tui.core.reader)."""
    from tui.core.reader import Reader

    reader = Reader.open(settings)
    if reader is not None:
        try:
            return reader.oauth_records()
        finally:
            reader.close()
    from tui.core.store import Store

    store = Store.open(settings.db_url)
    try:
        return [record for record in store.list(reports=False) if record.settings.sign_in.uses_oauth]
    finally:
        store.close()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _database_row(settings: Settings) -> tuple[str, str, bool]:
    from tui.core.reader import Reader
    from tui.core.records import HEAD_REVISION

    reader = Reader.open(settings)  # a current SQLite file: read it without the store's imports
    if reader is not None:
        try:
            return ("database", f"{settings.db_label} (schema {HEAD_REVISION}, head {HEAD_REVISION}, "
                                f"{reader.count()} providers)", True)
        except Exception:  # read on the full path below, which says what is wrong
            pass
        finally:
            reader.close()
    from tui.core.bootstrap import environment_problem
    from tui.core.store import Store

    try:
        store = Store.open(settings.db_url)
        try:
            revision = store.schema_revision()
            count = len(store.names())
        finally:
            store.close()
    except Exception as exc:  # reported, not raised: doctor is what people run when things break
        problem = environment_problem(exc, settings) or f"database {settings.db_label}: {type(exc).__name__}: {exc}"
        return ("database", problem.removeprefix("database "), False)
    where = settings.db_label
    return ("database", f"{where} (schema {revision}, head {HEAD_REVISION}, {count} providers)", True)


def _permission_rows(settings: Settings) -> list[tuple[str, str, bool]]:
    """A warning for the data folder and each database file (or its folder) that other users
    may open: provider settings are no secret, but nobody else's business. mailprov creates
    them 0700/0600; older versions did not."""
    paths = [settings.data_dir]
    db = settings.db_path
    if db is not None:
        paths += [db.parent, db, *(Path(f"{db}{suffix}") for suffix in ("-wal", "-shm"))]
    rows = []
    for path in dict.fromkeys(paths):  # the db is usually in the data folder: each path once
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # absent (no -wal between sessions) or unreadable: nothing to warn about
        if mode & 0o077:
            private = 0o700 if path.is_dir() else 0o600
            rows.append(("permissions", f"{path} is open to other users (mode {mode:o}): "
                         f"run `chmod {private:o} {path}`", False))
    return rows


def _log_row(settings: Settings) -> tuple[str, str, bool]:
    from tui.core.bootstrap import LogFileError, configure_logging

    try:
        configure_logging(settings)
    except LogFileError as exc:
        return ("log file", str(exc).removeprefix("log file "), False)
    return ("log file", str(settings.log_file), True)


def _secrets_row(settings: Settings) -> tuple[str, str, bool]:
    try:
        from tui.core.secrets import choose_backend, describe_backend

        return ("secret store", describe_backend(choose_backend(settings)), True)
    except Exception as exc:
        return ("secret store", f"unusable: {exc}", False)


def _ca_row(settings: Settings) -> tuple[str, str, bool]:
    """The CA file in use must exist: OpenSSL would skip a missing SSL_CERT_FILE silently,
    and a missing MAILPROV_CA_FILE fails every check."""
    variable, path = ("MAILPROV_CA_FILE", settings.ca_file) if settings.ca_file else (
        "SSL_CERT_FILE", settings.env.get("SSL_CERT_FILE"))
    if path and not Path(path).is_file():
        return ("CA source", f"{variable} names {path}, which does not exist: fix or unset it", False)
    return ("CA source", settings.ca_source, True)
