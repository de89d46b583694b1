"""`mailprov doctor`: what this installation runs on, for bug reports and first set-up."""

from __future__ import annotations

import platform
import ssl
from importlib import metadata

from tui.core.settings import Settings

PACKAGES = ("mailprov", "textual", "sqlmodel", "sqlalchemy", "alembic", "keyring", "imapclient",
            "msal", "google-auth-oauthlib")


def collect(settings: Settings) -> list[tuple[str, str, bool]]:
    """(label, value, ok) rows. Never raises: a failing part is a row that says why."""
    rows = [("python", platform.python_version(), True), ("openssl", ssl.OPENSSL_VERSION, True)]
    rows += [(name, _version(name), True) for name in PACKAGES]
    rows.append(_database_row(settings))
    rows.append(_secrets_row(settings))
    rows.append(("CA source", settings.ca_source, True))
    rows.append(("timeout", f"{settings.timeout:g} s per network operation", True))
    rows.append(("log file", str(settings.log_file), True))
    return rows


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _database_row(settings: Settings) -> tuple[str, str, bool]:
    from tui.core.store import HEAD_REVISION, Store

    try:
        store = Store.open(settings.db_url)
        revision = store.schema_revision()
        count = len(store.names())
        store.close()
    except Exception as exc:  # reported, not raised: doctor is what people run when things break
        return ("database", f"{settings.db_url}: {exc}", False)
    where = settings.db_path or settings.db_url
    return ("database", f"{where} (schema {revision}, head {HEAD_REVISION}, {count} providers)", True)


def _secrets_row(settings: Settings) -> tuple[str, str, bool]:
    try:
        from tui.core.secrets import choose_backend, describe_backend

        return ("secret store", describe_backend(choose_backend(settings)), True)
    except Exception as exc:
        return ("secret store", f"unusable: {exc}", False)
